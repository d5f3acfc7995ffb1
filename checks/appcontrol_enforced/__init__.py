"""The appcontrol_enforced check: metadata in check.yaml, evaluation per platform."""
