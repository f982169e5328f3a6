"""Plain logic shared by this project's Lambda functions: one module per concern."""
