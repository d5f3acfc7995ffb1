"""``harden hunt --watch``: the sampling collector and the split of its output into samples (pure).

The watch collector is the ordinary Linux hunt collector with its hunt pieces (every piece of
:func:`hardening.hunt.linux.hunt_pieces` between the header and the footer: ``collect.sh`` and
whatever else is there, unchanged) wrapped in a shell function that a loop runs once per
sample, in the same SSH session (one round trip)::

    header.sh                         meta.* sections, once
    _hunt_sample() { collect.sh ... } every hunt section, unchanged
    loop: "hunt.sample" marker section (index, uptime in centiseconds), then _hunt_sample
    "hunt.watch" section              samples taken, why the loop stopped, bytes sent
    footer.sh                         __done__

A sample is everything from one ``hunt.sample`` marker to the next, so a section or a piece
added to the hunt collector is sampled without any change here. The loop is bounded: at most
:data:`MAX_DURATION` seconds, an interval of at least :data:`MIN_INTERVAL` second, at most
:data:`MAX_SAMPLES` samples, and it stops before its output would pass its byte budget
(``--max-output`` less a margin), so the host is never cut off mid-sample by the transport's cap.
Each sample is written to the collector's private directory first, to count its bytes.

``HS`` (the sample index, 0 for the first) is visible to the pieces: a piece with an expensive
section that cannot change during a watch may skip it when ``HS`` is not 0 (later samples then
reuse sample 0's section, see :func:`iter_samples`).

Example::

    spec = WatchSpec(duration=120, interval=2, budget=30 * 2**20)
    script = watch_script("n1", spec)
    for sample in iter_samples(stdout_bytes, "n1"):
        snapshot = parse_snapshot(sample.sections)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from hardening.facts.sections import Section, Sections, parse_sections, parse_uint

MAX_DURATION = 3600  # seconds a watch may last
MIN_INTERVAL = 1  # seconds between samples, at least
MAX_SAMPLES = 720  # samples a watch may take
DEFAULT_INTERVAL = 2
BUDGET_MARGIN = 1024 * 1024  # bytes of --max-output kept free for the header, the footer and stderr
SAMPLE_SECTION = "hunt.sample"
WATCH_SECTION = "hunt.watch"

_DURATION = re.compile(r"(\d{1,7})\s*(s|sec|m|min|h)?")
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


class WatchError(ValueError):
    """A --watch or --interval value that is not allowed (the message says why)."""


@dataclass(frozen=True)
class WatchSpec:
    """How long to watch, how often to sample (seconds), how many bytes the collector may send."""

    duration: int
    interval: int = DEFAULT_INTERVAL
    budget: int = 31 * 1024 * 1024

    @property
    def max_samples(self) -> int:
        """Samples at 0, interval, 2*interval, ... up to the duration (bounded by :data:`MAX_SAMPLES`)."""
        return min(MAX_SAMPLES, self.duration // self.interval + 1)


def parse_duration(text: str) -> int:
    """Seconds from ``90``, ``90s``, ``5m`` or ``1h`` (1 to :data:`MAX_DURATION`).

    >>> parse_duration("90"), parse_duration("5m"), parse_duration("1h")
    (90, 300, 3600)
    """
    m = _DURATION.fullmatch(text.strip().lower())
    if not m:
        raise WatchError(f"--watch {text!r}: give seconds, or a number with s, m or h (e.g. 120, 5m)")
    seconds = int(m.group(1)) * _UNIT[m.group(2)]
    if not 1 <= seconds <= MAX_DURATION:
        raise WatchError(f"--watch {text!r}: a watch lasts 1 s to {MAX_DURATION // 60} min")
    return seconds


def watch_spec(duration: str, interval: int | None, max_output: int) -> WatchSpec:
    """The spec of ``--watch DURATION --interval S`` under ``--max-output`` bytes (WatchError when not allowed)."""
    seconds = parse_duration(duration)
    step = DEFAULT_INTERVAL if interval is None else interval
    if step < MIN_INTERVAL:
        raise WatchError(f"--interval {step}: at least {MIN_INTERVAL} s between samples")
    if step > seconds:
        raise WatchError(f"--interval {step} is longer than the watch ({seconds} s)")
    budget = max_output - BUDGET_MARGIN
    if budget < 256 * 1024:
        raise WatchError(f"--max-output is too small for a watch (at least {(BUDGET_MARGIN >> 20) + 1} MiB)")
    return WatchSpec(seconds, step, budget)


# The loop. Time is /proc/uptime in centiseconds (monotonic: no wall-clock steps); samples are
# due at t0, t0 + interval, ...; a sample that takes longer than the interval delays the next.
_LOOP = r"""
# harden hunt --watch loop: one "hunt.sample" marker section, then every hunt section, per sample.
_hw_cs() {
    read -r _hwu _hwx </proc/uptime 2>/dev/null || _hwu=0.00
    _hws=${_hwu%%.*}
    case $_hwu in *.*) _hwf=${_hwu#*.}00 ;; *) _hwf=00 ;; esac
    _hwf=${_hwf%"${_hwf#??}"}
    _hwf=${_hwf#0}
    _hwt=$((_hws * 100 + _hwf))
}
if sleep 0.01 2>/dev/null; then _hw_frac=1; else _hw_frac=; fi
_hw_cs
_hw_t0=$_hwt
_hw_end=$((_hw_t0 + HWD * 100))
HS=0
_hw_sent=0
_hw_stop=duration
while :; do
    _hw_cs
    printf '\n@@%s B hunt.sample\n%s %s\n@@%s E hunt.sample 0\n' "$HN" "$HS" "$_hwt" "$HN"
    _hunt_sample >"$HT/sample" 2>"$HT/sample.err"
    set -- $(wc -c <"$HT/sample")
    _hw_last=${1:-0}
    cat "$HT/sample"
    _hw_sent=$((_hw_sent + _hw_last))
    HS=$((HS + 1))
    _hw_next=$((_hw_t0 + HS * HWI * 100))
    if [ "$_hw_next" -gt "$_hw_end" ]; then break; fi
    if [ "$HS" -ge "$HWN" ]; then _hw_stop=samples; break; fi
    if [ $((_hw_sent + _hw_last + _hw_last / 2)) -gt "$HWB" ]; then _hw_stop=budget; break; fi
    _hw_cs
    _hw_wait=$((_hw_next - _hwt))
    if [ "$_hw_wait" -gt 0 ]; then
        if [ -n "$_hw_frac" ]; then
            sleep "$((_hw_wait / 100)).$((_hw_wait % 100 / 10))$((_hw_wait % 10))"
        else
            sleep $(((_hw_wait + 99) / 100))
        fi
    fi
done
rm -f "$HT/sample" "$HT/sample.err"
_hw_cs
printf '\n@@%s B hunt.watch\n%s %s %s %s %s\n@@%s E hunt.watch 0\n' \
    "$HN" "$HS" "$_hw_stop" "$_hw_sent" "$_hw_t0" "$_hwt" "$HN"
"""


def _piece(package: str, name: str) -> str:
    return resources.files(package).joinpath(f"{name}.sh").read_text(encoding="ascii")


def watch_script(nonce: str, spec: WatchSpec, drift: bool = False) -> str:
    """The POSIX sh watch collector for ``nonce`` (letters and digits only); ``drift``: with ``drift.sh``
    (``--baseline``: read in the first sample only)."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    if not (MIN_INTERVAL <= spec.interval <= spec.duration <= MAX_DURATION) or spec.budget <= 0:
        raise ValueError(f"watch out of bounds: {spec}")
    from hardening.hunt.linux import hunt_pieces

    outside = {("hardening.facts", "header"), ("hardening.facts", "footer")}
    sampled = [_piece(package, name) for package, name in hunt_pieces(drift) if (package, name) not in outside]
    limits = f"HWD={spec.duration} HWI={spec.interval} HWN={spec.max_samples} HWB={spec.budget}"
    return "\n".join(
        [
            "#!/bin/sh",
            f"HN={nonce}",
            _piece("hardening.facts", "header"),
            limits,
            "HS=0",
            "_hunt_sample() {",
            *sampled,
            ":",  # a function body may not be empty, whatever the pieces end with
            "}",
            _LOOP,
            _piece("hardening.facts", "footer"),
        ]
    )


@dataclass(frozen=True)
class Sample:
    """One pass of the hunt piece: its index, when it started (centiseconds of host uptime), its sections
    (the run's ``meta.*`` sections included)."""

    index: int
    uptime_cs: int | None
    sections: Sections


@dataclass(frozen=True)
class WatchEnd:
    """What the loop said when it stopped (``hunt.watch``): ``stopped`` is duration, samples or budget."""

    samples: int
    stopped: str
    sent: int
    started_cs: int
    ended_cs: int


def _marks(output: bytes, nonce: str) -> list[int]:
    """Offsets of the ``hunt.sample`` begin lines (at a line start): at most :data:`MAX_SAMPLES`, what
    the loop can print (more would be a host forging markers to make the controller work)."""
    head = f"@@{nonce} B {SAMPLE_SECTION}\n".encode()
    out: list[int] = []
    i = output.find(head)
    while i != -1 and len(out) < MAX_SAMPLES:
        if i == 0 or output[i - 1 : i] == b"\n":
            out.append(i)
        i = output.find(head, i + 1)
    return out


def iter_samples(output: bytes, nonce: str) -> Iterator[Sample]:
    """The samples of a watch run's output, one at a time (each parsed when reached, so at most
    one sample's sections are alive besides the output). Output without any ``hunt.sample``
    marker (the ordinary one-snapshot collector) is one sample, index 0.

    Each sample's :class:`Sections` holds the run's header sections (``meta.*``) and its own;
    ``complete`` is True for every sample but a last one cut short (no ``__done__`` after it).
    A complete later sample also holds the sections of sample 0 it does not have itself (a piece
    that reads something only when ``HS`` is 0), never its ``!err`` ones; a cut sample does not
    (what is missing there was lost, not skipped).
    """
    marks = _marks(output, nonce)
    if not marks:
        yield Sample(0, None, parse_sections(output, nonce))
        return
    header = parse_sections(output[: marks[0]], nonce).by_name
    first: dict[str, Section] = {}
    for n, start in enumerate(marks):
        stop = marks[n + 1] if n + 1 < len(marks) else len(output)
        own = parse_sections(output[start:stop], nonce)
        complete = own.complete if n + 1 == len(marks) else True
        if n == 0:
            first = {k: v for k, v in own.by_name.items() if v.rc is not None and not k.endswith("!err")}
        base = first if complete else {}
        sections = Sections({**header, **base, **own.by_name}, complete=complete)
        index, uptime = _marker(sections.text(SAMPLE_SECTION))
        yield Sample(n if index is None else index, uptime, sections)


def _marker(text: str) -> tuple[int | None, int | None]:
    parts = text.split()
    if len(parts) != 2:
        return None, None
    return parse_uint(parts[0]), parse_uint(parts[1])


def watch_end(output: bytes, nonce: str) -> WatchEnd | None:
    """The ``hunt.watch`` section (the last one: a sample cannot hold it), or None when absent."""
    head = f"\n@@{nonce} B {WATCH_SECTION}\n".encode()
    i = output.rfind(head)
    if i == -1:
        return None
    sec = parse_sections(output[i:], nonce).get(WATCH_SECTION)
    parts = sec.text.split() if sec is not None and sec.rc == 0 else []
    nums = [parse_uint(p) for p in parts[:1] + parts[2:5]]
    if len(parts) != 5 or any(n is None for n in nums) or parts[1] not in ("duration", "samples", "budget"):
        return None
    samples, sent, t0, t1 = (int(n) for n in nums if n is not None)
    return WatchEnd(samples, parts[1], sent, t0, t1)
