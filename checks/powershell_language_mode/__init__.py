"""The powershell_language_mode check: metadata in check.yaml, evaluation per platform."""
