"""The egress_allowlist check: metadata in check.yaml, evaluation per platform."""
