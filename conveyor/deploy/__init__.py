"""The deploy engine: CodeDeploy's appspecs, deployment configurations and lifecycles, on hosts and against AWS."""
