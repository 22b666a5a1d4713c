"""Flask function handlers: one small module per entry point. They verify, validate, record, enqueue, answer."""
