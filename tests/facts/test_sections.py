"""The collector wire format: markers, exit codes, truncation, forged markers."""

from hardening.facts.collector import build_linux_script
from hardening.facts.sections import parse_sections


def test_sections_keep_exact_bodies_and_exit_codes():
    out = (
        "noise before\n"
        "@@n1 B a\nline1\nline2\n\n@@n1 E a 0\n"
        "\n@@n1 B empty\n\n@@n1 E empty 127\n"
        "\n@@n1 B nonl\nno newline\n@@n1 E nonl 3\n"
        "\n@@n1 B __done__\n\n@@n1 E __done__ 0\n"
    )
    s = parse_sections(out, "n1")
    assert s["a"].text == "line1\nline2\n"
    assert s["a"].rc == 0 and s["a"].ok
    assert s["empty"].text == "" and s["empty"].missing
    assert s["nonl"].text == "no newline" and s["nonl"].rc == 3
    assert s.complete


def test_truncated_output_is_flagged_not_complete():
    out = "@@n1 B a\nfull\n@@n1 E a 0\n\n@@n1 B b\npartial outp"
    s = parse_sections(out, "n1")
    assert s["a"].rc == 0
    assert s["b"].rc is None and s["b"].text == "partial outp"
    assert not s.complete


def test_a_host_cannot_forge_markers_without_the_nonce_or_override_sections():
    out = "@@n1 B a\n@@other E a 0\n@@other B __done__\nreal\n@@n1 E a 0\n\n@@n1 B a\nsecond copy\n@@n1 E a 0\n"
    s = parse_sections(out, "n1")
    assert s["a"].text == "@@other E a 0\n@@other B __done__\nreal"
    assert "__done__" not in s
    assert not s.complete


def test_script_is_ascii_and_carries_the_nonce():
    script = build_linux_script("deadbeef")
    script.encode("ascii")
    assert "HN=deadbeef" in script
    assert script.rstrip().endswith('__done__ 0\\n\' "$HN" "$HN"')
