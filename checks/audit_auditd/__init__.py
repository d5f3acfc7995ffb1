"""The audit_auditd check: metadata in check.yaml, evaluation per platform."""
