"""dns.query_logging without CAP_SYS_PTRACE: a port-53 socket is attributed to the only resolver
process of its owner uid when /proc/<pid>/fd is unreadable; ambiguous stays error (issue 17)."""

from __future__ import annotations

from pathlib import Path

from hardening.checks import evaluated
from hardening.checks.dns_query_logging import linux as check

from hardening.facts.linux import gather
from hardening.facts.sections import parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parent.parent / "golden" / "dns"


def blind(uid_of_sockets: str | None = "102", second: bool = False) -> str:
    """unbound_logging as seen without CAP_SYS_PTRACE: fds unreadable, sockets owned by ``uid_of_sockets``."""
    text = (GOLDEN / "unbound_logging.dash.txt").read_text(encoding="utf-8", errors="surrogateescape")
    head, _, rest = text.partition("sockets ")
    text = head + "sockets \nfd_readable no" + rest.split("fd_readable yes", 1)[1]
    if uid_of_sockets is not None:
        lines = []
        for line in text.splitlines(keepends=True):
            f = line.split()
            if len(f) >= 10 and f[0].endswith(":") and f[1].endswith(":0035"):
                f[7] = uid_of_sockets
                line = " ".join(f) + "\n"
            lines.append(line)
        text = "".join(lines)
    if second:  # another resolver process of the same uid
        text = text.replace(
            "@proc 21\n", "@proc 22\nuid 102\ncomm 756e626f756e640a\nsockets \nfd_readable no\n@proc 21\n"
        )
    return text


def verdict(text: str):
    return evaluated(check.evaluate, gather(parse_sections(text, "x")), Policy())


def test_only_resolver_of_the_socket_uid_is_attributed_and_said_so():
    v = verdict(blind("102"))
    assert v.status is Status.PASS, v.message
    assert "attributed by the socket's owner uid 102" in v.message


def test_socket_uid_of_no_resolver_stays_error():
    v = verdict(blind(None))  # sockets owned by root (bound before the daemon dropped privileges)
    assert v.status is Status.ERROR and "run the audit as root" in v.message


def test_two_resolvers_of_that_uid_is_ambiguous_and_stays_error():
    text = blind("102", second=True)
    assert text.count("@proc") >= 2
    v = verdict(text)
    assert v.status is Status.ERROR, v.message
