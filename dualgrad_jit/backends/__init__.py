"""Code generators for the kernel IR (each imports its heavy dependency itself)."""
