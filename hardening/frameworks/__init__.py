"""Framework mappings (data): check ids -> NIST SP 800-53, CIS, ATT&CK; per-check remediation text.

Read through :mod:`hardening.report.frameworks`; one YAML file per framework.
"""
