"""Ready-made protocols and the helpers for writing new ones."""
