"""The audit_sysmon check: metadata in check.yaml, evaluation per platform."""
