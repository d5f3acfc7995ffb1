"""Redaction holds after every normalisation an output applies (pure, no host).

A hostile host echoes the password with escape sequences, control or invisible characters
between its letters; the writers drop those characters afterwards. Whatever a writer or a
reader (``jq -r``, stripping control characters, a terminal, a browser) does to the redacted
text, the password never appears.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardening.audit import REDACTED, redact
from hardening.console import safe
from hardening.hunt.model import Detection, Tier
from hardening.hunt.run import HostHunt
from hardening.model import CheckResult, Evidence, HostResult, HostStatus, Platform, Severity, Status
from hardening.redact import ANSI_SEQUENCE, IGNORABLE, Redactor
from hardening.report.text import md_code_block, md_text, strip_control, terminal_safe, xml_safe

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from ssh_server import disguises

_ANSI = re.compile(ANSI_SEQUENCE)
_IGN = re.compile(IGNORABLE)
_CONSOLE_ESCAPE = re.compile(r"\\x[0-9a-f]{2}|\\n")


def unseen(text: str) -> str:
    """What someone sees who strips control and format characters (the attacker's view)."""
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs") and not _IGN.match(c))


def rendered(text: str) -> str:
    """What a terminal or a browser shows: escape sequences act, invisible characters vanish."""
    return unseen(_ANSI.sub("", text))


WRITERS = {
    "json": lambda t: json.loads(json.dumps(t, ensure_ascii=False)),
    "strip_control": strip_control,
    "xml_safe": xml_safe,
    "terminal_safe": terminal_safe,
    "md_text": md_text,
    "md_code_block": md_code_block,
    # The console spells a control character as the text "\\xNN" (or "\\n"): that text is the writer's,
    # not the host's, so it stands as one character no password holds (its "b" of "\\x9b" next to a
    # password's "000" is not the password "b000").
    "console": lambda t: _CONSOLE_ESCAPE.sub("\ufffd", safe(t, 10**6)),
}


def views(text: str) -> dict[str, str]:
    out = {}
    for name, writer in WRITERS.items():
        shown = writer(text)
        out[name] = shown
        out[name + "+unseen"] = unseen(shown)
        out[name + "+rendered"] = rendered(shown)
        out[name + "+spaces"] = " ".join(rendered(shown).split())
    return out


def assert_hidden(secret: str, text: str) -> None:
    blanked = Redactor.of([secret]).text(text)
    leaks = {name: v for name, v in views(blanked).items() if secret in v}
    assert not leaks, (secret, text, blanked, leaks)


def test_the_echoes_of_the_issue_are_blanked():
    r = Redactor.of(["hunter42"])
    for echo in ("hun\x1b[0mter42", "h\x00u\x08nter42", "hunter\r42", "hun\x1b]0;x\x07ter42", "hun\u200bter42"):
        assert r.text(f"sudo: {echo}!") == f"sudo: {REDACTED}!"
    for pw in ("hunter42", "Sudo-9f3e2a", "p4ss[w0rd]", "Ab3@Zz~!"):
        for d in disguises(pw):
            assert_hidden(pw, f"before {d} after")


def test_what_each_writer_drops_is_ignorable():
    """Every character a writer removes (or a reader does not see) is one redaction skips over:
    exhaustive over all of Unicode."""
    for cp in range(0x110000):
        c = chr(cp)
        dropped = strip_control(c) == "" or xml_safe(c) == "" or unicodedata.category(c) in ("Cc", "Cf", "Cs")
        if dropped:
            assert _IGN.fullmatch(c), f"U+{cp:04X} is dropped by an output but not ignorable to redaction"


def test_a_whitespace_in_a_password_matches_any_run_that_an_output_may_collapse():
    for text in ("ab\ncd", "ab \x1b[0m\t cd", "ab\u3000cd", "ab\x00\x00cd"):
        assert_hidden("ab cd", text)
    assert Redactor.of(["ab cd"]).text("abcd") == "abcd"  # no whitespace at all: not that password


def test_short_secrets_and_none_change_nothing():
    assert not Redactor.of([None, "", "abc"])
    assert Redactor.of(["abc"]).text("abc abc") == "abc abc"


def test_an_escape_whose_final_byte_is_a_password_letter():
    """``\\x1b[b`` is one escape to strip_control (b is its final byte) and ``[b`` to someone
    who drops only control characters: both views are covered."""
    for text in ("a\x1b[bc", "x\x1bHunter42", "\x1b]0;hunter42\x07"):
        for secret in ("a[bc", "Hunter42", "hunter42"):
            assert_hidden(secret, text)


_SECRET = st.text(alphabet=st.sampled_from("abcHMZ[]()0123456789-_ @~é中"), min_size=4, max_size=12).filter(
    lambda s: s.strip() == s and "  " not in s
)
_JUNK = st.sampled_from(
    ["\x1b[0m", "\x1b[", "\x1b", "\x1b]0;t\x07", "\x1b]x", "\x07", "\x00", "\x08", "\r", "\n", "\t", " ", "\x9b",
     "\x1bM", "\u200b", "\u202e", "\ufeff", "\ud800", "\x1b\\", "[", "m", "*"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(secret=_SECRET, cuts=st.lists(st.integers(0, 12), max_size=6), junk=st.lists(_JUNK, max_size=6))
@example(secret="b000", cuts=[1, 1], junk=["[", "\x9b"])  # the console's "\x9b" text is not the "b"
def test_no_writer_shows_a_password_interleaved_with_junk(secret, cuts, junk):
    pieces, last = [], 0
    for cut, j in zip(sorted(c % (len(secret) + 1) for c in cuts), junk, strict=False):
        pieces += [secret[last:cut], j]
        last = cut
    pieces.append(secret[last:])
    assert_hidden(secret, "".join(pieces))


_NOISE = st.text(alphabet=st.sampled_from(list("abcHM[]0 \x1b\x00\x07\x08\r\n\u200b*m;")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(secret=_SECRET, text=_NOISE)
def test_no_writer_shows_a_password_in_arbitrary_text(secret, text):
    assert_hidden(secret, text + secret[:2] + "\x1b[0m" + secret[2:] + text)


def _host(message: str, excerpt: str, facts: dict) -> HostResult:
    check = CheckResult("c.x", Status.ERROR, Severity.HIGH, "t", message, Evidence(facts, excerpt), ())
    return HostResult("web1", Platform.LINUX, HostStatus.ERROR, message, "127.0.0.1", (check,))


def test_host_results_are_blanked_in_every_string_whatever_the_disguise():
    pw = "Sudo-9f3e2a"
    for d in disguises(pw):
        host = _host(f"sudo: {d}", f"# resolv.conf\n{d}\n", {"error": d, "list": [d, {d: d}], "n": 3})
        out = redact(host, [pw, None])
        text = json.dumps(out.to_json(), ensure_ascii=False)
        assert out.checks[0].evidence.facts["n"] == 3
        assert REDACTED in out.message or not any(pw in v for v in views(d).values())
        for s in (out.message, out.checks[0].message, out.checks[0].evidence.excerpt, text):
            assert not any(pw in v for v in views(s).values()), (d, s)
    clean = _host("nothing here", "x", {"k": "v"})
    assert redact(clean, [pw]) is clean  # no secret anywhere: the result as it was


def test_hunt_results_are_blanked_but_names_and_enums_kept():
    pw = "Sudo-9f3e2a"
    d = Detection(1, "sh", Tier.HIGH, (f"argv {pw[:3]}\x1b[0m{pw[3:]}",), cmdline="sh -c " + "\u200b".join(pw))
    hunt = HostHunt(pw + "-host", "a", Platform.LINUX, HostStatus.OK, message=f"m {pw}", detections=(d,))
    out = Redactor.of([pw]).record(hunt, keep=frozenset({"name", "address"}))
    assert out.name == pw + "-host" and out.status is HostStatus.OK and out.detections[0].severity is Tier.HIGH
    assert out.message == f"m {REDACTED}" and out.detections[0].cmdline == f"sh -c {REDACTED}"
    assert out.detections[0].reasons == (f"argv {REDACTED}",)
    clean = replace(hunt, message="x", detections=())
    assert Redactor.of([pw]).record(clean, keep=frozenset({"name"})) is clean


# ----------------------------------------------------------------- cuts come after redaction


def test_an_excerpt_cut_across_a_password_shows_none_of_it():
    from hardening.facts.sections import parse_sections

    pw = "Sudo-9f3e2a"
    out = f"@@n B dns.resolv_conf\n{'x' * 3995}{pw[:3]}\x1b[0m{pw[3:]}{'y' * 100}\n@@n E dns.resolv_conf 0\n"
    sections = parse_sections(out.encode(), "n")
    assert "Sud" in sections.excerpt("dns.resolv_conf")  # without the host's redactor: cut as it comes
    redacted = replace(sections, redactor=Redactor.of([pw])).excerpt("dns.resolv_conf")
    assert "Sud" not in redacted and redacted.endswith("*****\n[... truncated]")


def test_the_last_line_shown_is_taken_after_redaction():
    """sudo's refusal and the collector's stderr are shown by their last line: a line break inside an
    echoed password must not leave the rest of it on that line."""
    from hardening.checks import linux_checks

    from hardening.audit import _HostRun, linux_result
    from hardening.facts.sections import parse_sections
    from hardening.inventory import Connection, Target

    pw = "Sudo-9f3e2a"
    target = Target("h", Connection.SSH, "127.0.0.1", become=True, become_password=pw)
    host = _HostRun(target, Platform.LINUX, "127.0.0.1", linux_checks(), 0.0)
    for echo in (pw[:3] + "\x85" + pw[3:], pw[:-2] + "\r" + pw[-2:], pw[:1] + "\n" + pw[1:]):
        result = linux_result(host, parse_sections(b"", "n"), 1, f"sudo: {echo}\n")
        assert pw[3:] not in result.message and pw[-5:] not in result.message, result.message
        assert REDACTED in result.message


def test_sudo_refusal_is_redacted_before_its_last_line_is_kept():
    from hardening.transport.base import TransportError, exchange, plan_command

    pw = "Sudo-9f3e2a"
    plan = plan_command(become=True)

    class Sudo:
        def __init__(self) -> None:
            self.replies = [(b"", plan.prompt.encode(), False), (b"", f"Sorry: {pw[:4]}\x85{pw[4:]}\n".encode(), True)]

        def send(self, data: bytes) -> None: ...

        def close_stdin(self) -> None: ...

        def recv(self, timeout: float) -> tuple[bytes, bytes, bool]:
            return self.replies.pop(0) if self.replies else (b"", b"", True)

        def exit_code(self) -> int | None:
            return 1

        def close(self) -> None: ...

    import time

    import pytest

    with pytest.raises(TransportError) as err:
        exchange(Sudo(), b"", plan, time.monotonic() + 10, pw, secrets=(pw,))
    assert pw[4:] not in err.value.message and REDACTED in err.value.message
