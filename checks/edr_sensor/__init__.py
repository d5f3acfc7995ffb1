"""The edr.sensor check: metadata in check.yaml, evaluation per platform (linux.py, windows.py)."""
