"""Click command-line interface."""
