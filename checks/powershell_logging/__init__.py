"""The powershell_logging check: metadata in check.yaml, evaluation per platform."""
