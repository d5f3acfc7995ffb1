"""The logging.forwarding check: metadata in check.yaml, evaluation per platform (linux.py, windows.py)."""
