"""A host's answer costs a small multiple of its size in memory, whatever it holds.

The output stays the bytes the host sent (the transport's buffer becomes them without a copy);
each section is a view of them, decoded when a parser reads it; line parsers read a block of
lines at a time; a huge section with 4-byte characters is not decoded; memoised rulesets are
small ones. Measured with tracemalloc (Python's own allocations, not timing): a robust bound.
"""

from __future__ import annotations

import re
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from ssh_server import big_answer, golden_output

import hardening.audit as audit
from hardening.facts import sections as sections_mod
from hardening.facts.sections import FactError, Section, iter_lines, parse_sections
from hardening.inventory import Connection, Target
from hardening.model import HostStatus, Status
from hardening.transport import base

MIB = 1024 * 1024


class _Channel:
    """A host that answers with ``chunks`` (made on the fly: the answer never exists whole here)."""

    def __init__(self, chunks) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def send(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def recv(self, timeout: float) -> tuple[bytes, bytes, bool]:
        if not self._buf:
            self._buf = next(self._chunks, b"")
            if not self._buf:
                return b"", b"", True
        out, self._buf = self._buf[:65536], self._buf[65536:]
        return out, b"", False

    def exit_code(self) -> int | None:
        return 0

    def close(self) -> None: ...


def _audit(monkeypatch, size: int, shape: str):
    def run(target, script, options):
        nonce = re.search(r"HN=([0-9a-f]+)", script).group(1)
        return base.exchange(
            _Channel(big_answer(nonce, size, shape)), b"", base.plan_command(False), time.monotonic() + 600
        )

    monkeypatch.setattr(audit, "_run_transport", run)
    target = Target("h", Connection.SSH, "127.0.0.1", password="hunter42")
    return audit.audit_host(target, audit.AuditOptions())


@pytest.mark.parametrize("shape", ["section", "outside", "ascii-emoji", "lines"])
def test_one_host_costs_a_small_multiple_of_its_answer(monkeypatch, shape):
    """2 MiB answers (the decoding bound scaled down with them): before this, 8x (one emoji: the
    whole output at 4 bytes a character, plus copies) to 40x (two-letter lines split at once)."""
    monkeypatch.setattr(sections_mod, "WIDE_LIMIT", 256 * 1024)
    size = 2 * MIB
    _audit(monkeypatch, 64 * 1024, shape)  # imports and caches warm
    tracemalloc.start()
    try:
        result = _audit(monkeypatch, size, shape)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is HostStatus.OK
    assert peak < 3 * size, f"{shape}: peak {peak / size:.1f}x the answer"


def test_a_huge_section_with_four_byte_characters_is_an_error_not_a_pass(monkeypatch):
    monkeypatch.setattr(sections_mod, "WIDE_LIMIT", 256 * 1024)
    result = _audit(monkeypatch, MIB, "ascii-emoji")
    dns = next(c for c in result.checks if c.id == "dns.query_logging")
    assert dns.status is Status.ERROR and "not decoded" in dns.message
    assert "😀" in dns.evidence.excerpt  # the evidence still shows its beginning


def test_sections_are_views_of_the_output_bytes():
    out = golden_output("n1")
    secs = parse_sections(out, "n1")
    body = secs["dns.resolv_conf"].body
    assert isinstance(body, memoryview) and body.obj is out  # no copy
    assert "nameserver" in secs.text("dns.resolv_conf")
    from_text = parse_sections(out.decode(), "n1")  # the same sections as from text
    assert {k: (v.text, v.rc) for k, v in secs.items()} == {k: (v.text, v.rc) for k, v in from_text.items()}


_PIECES = st.sampled_from(
    ["@@n B a\n", "@@n E a 0\n", "@@n B b\n", "@@n E b 12\n", "@@n B __done__\n", "@@n E __done__ 0\n",
     "x", "\n", "é", "😀", "@@n", " E ", "@@m B c\n", "\r\n", "\x00"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_bytes_and_text_give_the_same_sections(pieces):
    text = "".join(pieces)
    as_text, as_bytes = parse_sections(text, "n"), parse_sections(text.encode(), "n")
    assert as_text.complete == as_bytes.complete
    assert {k: (v.text, v.rc) for k, v in as_text.items()} == {k: (v.text, v.rc) for k, v in as_bytes.items()}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029é")), max_size=60))
def test_iter_lines_is_splitlines(text):
    for block in (1, 2, 3, 7, 65536):
        assert list(iter_lines(text, block)) == text.splitlines()


def test_excerpts_decode_only_what_they_show():
    sec = Section("s", memoryview(("é" * 10_000).encode()), 0)
    text, more = sections_mod.head(sec.body, 4000)
    assert text == "é" * 4000 and more
    assert sections_mod.head(memoryview(b"abc"), 4000) == ("abc", False)
    with pytest.raises(FactError):
        sections_mod.decode(memoryview(b"x" * (sections_mod.WIDE_LIMIT + 1) + "😀".encode()), "s")


def test_large_rulesets_are_parsed_but_not_memoised():
    from hardening.firewall import iptables, nft
    from hardening.firewall.model import MEMO_LIMIT

    rules = "".join(f"-A OUTPUT -d 10.0.{i // 250}.{i % 250}/32 -j ACCEPT\n" for i in range(40_000))
    big = "*filter\n:OUTPUT ACCEPT [0:0]\n" + rules + "COMMIT\n"
    assert len(big) > MEMO_LIMIT
    before = iptables._parse_save.cache_info().currsize
    assert iptables.parse_save(big, 4, "iptables").tables
    assert iptables._parse_save.cache_info().currsize == before
    doc = '{"nftables": [' + ", ".join('{"metainfo": {"json_schema_version": 1}}' for _ in range(30_000)) + "]}"
    before = nft._parse_ruleset.cache_info().currsize
    nft.parse_ruleset(doc)
    assert nft._parse_ruleset.cache_info().currsize == before
