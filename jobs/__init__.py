"""RQ job functions, one module per kind of work. Each job carries a dispatch id and attempt, nothing else."""
