"""What each Windows fixture host should get (checks not listed: fail), shared by the fixture tests
of both collector output shapes (one JSON object, and one line per area)."""

from hardening.checks import windows_checks

from hardening.model import Status

CHECKS = {c.meta.id: c for c in windows_checks()}

FIXTURE_VERDICTS = [
    # everything else fails
    ("server2022-default", {"binaries.netcat": Status.PASS, "services.least_privilege": Status.PASS}),
    ("server2022-hardened", dict.fromkeys(CHECKS, Status.PASS)),
    ("server2022-partial", {"dns.query_logging": Status.PASS}),  # via Sysmon event 22; everything else fails
    (
        "server2022-nonadmin",
        {
            "audit.sysmon": Status.ERROR,
            "powershell.logging": Status.ERROR,
            "binaries.netcat": Status.ERROR,
            "egress.default_deny": Status.PASS,
            "egress.allowlist": Status.PASS,
            "dns.query_logging": Status.PASS,
            "powershell.language_mode": Status.PASS,
            "appcontrol.enforced": Status.PASS,
            "edr.sensor": Status.PASS,  # Get-MpComputerStatus answers without elevation
            "logging.forwarding": Status.PASS,  # the policy key, channels and forwarding log are readable
            "services.least_privilege": Status.ERROR,  # applicationHost.config is for administrators only
        },
    ),
]
