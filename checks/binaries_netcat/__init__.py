"""The binaries.netcat check: metadata in check.yaml, evaluation per platform (linux.py, windows.py)."""

from hardening.model import Evidence, Status, Verdict


def allowed_only(described: list[str], ev: Evidence) -> Verdict:
    """The pass of a host whose only netcat-likes are allowed by policy (either platform)."""
    return Verdict(Status.PASS, "only netcat-likes allowed by policy: " + "; ".join(described), ev)
