"""Live reverse-shell hunt (``harden hunt``) and egress callback proof (``harden verify``).

- :mod:`hardening.hunt.linux` / :mod:`hardening.hunt.windows`: one-round-trip snapshot scripts
  and their pure parsers into a :class:`~hardening.hunt.model.Snapshot`;
- :mod:`hardening.hunt.score`: tiers and reasons from the process/socket graph;
- :mod:`hardening.hunt.suppress`: known-benign patterns, with justifications;
- :mod:`hardening.hunt.incident`: detections grouped into one incident per shell, with stable ids;
- :mod:`hardening.hunt.watch` / :mod:`hardening.hunt.timeline`: ``--watch`` sampling in one session,
  and the fold of samples (sightings, recurring shells, beacons, quiet long-lived sessions);
- :mod:`hardening.hunt.run`: the fleet runner and ``hunt.json``;
- :mod:`hardening.hunt.verify`: controller listeners and per-host callback attempts.
"""
