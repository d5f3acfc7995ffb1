"""Ansible roles harden's remediation uses (installed as ``hardening.playbooks``).

``roles/<name>/`` are ordinary Ansible roles; :mod:`hardening.remediate` copies the ones a
host needs into ``DIR/playbooks/roles/`` next to the generated site playbook.
"""
