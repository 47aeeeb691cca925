"""cleancut: local, non-destructive AI background removal (the engine)."""

__version__ = "0.1.0"
