"""The egress_default_deny check: metadata in check.yaml, evaluation per platform."""
