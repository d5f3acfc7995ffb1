"""The services.least_privilege check: metadata in check.yaml, evaluation per platform (linux.py, windows.py)."""
