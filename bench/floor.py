#!/usr/bin/env python3
"""Host CPU floor: what gathering harden's evidence costs a host with no shell glue at all.

Issue 23 asks for <= 100 ms of host CPU per audit (the lab container's cgroup). This bench
measures, per lab host, the CPU of the container's cgroup (``cpu.stat`` ``usage_usec``) around
each of these runs, alternating them in every round so they all see the same machine state:

1. ``ssh host true``: sshd's own cost (key exchange, PAM session, the login shell). Every
   OpenSSH row uses the key exchange harden's paramiko negotiates with the lab's sshd
   (``--kex``, curve25519); one more row shows OpenSSH's own default (sntrup761x25519);
2. ``ssh host sudo -n true``: plus sudo (``sudo -S`` with the password on a host whose sudo
   asks for one, as the lab's ``half``);
3. evidence only: harden's own command for the host (``sudo -H -n -u root /bin/sh -c 'echo ...;
   exec /bin/sh -s'``; ``sudo -S`` with a become password; ``/bin/sh -s`` for a root login) fed
   a script that runs each evidence program harden's collector runs on that host once, output
   to /dev/null, one ``cat`` of every file the collector's glue reads, and one in-shell glob of
   every directory it lists;
4. the collector: the same wrapper fed harden's full collector;
5. ``harden audit --limit host`` itself (``--no-audit`` skips it).

``--breakdown`` also runs each evidence program (and the cat, and the globs) alone in the
container through ``nsenter`` and prints their CPU (user+sys of the children).

The evidence list is derived, not written by hand: harden's real collector runs once in each
container (``nsenter`` into its namespaces, as root) under ``strace -f -e
trace=execve,openat,clone,clone3,fork,vfork,mkdir``. A program is *glue* when its executable's
name is in :data:`GLUE` (the shell and the small text tools that move, cut and label output;
see the comment there) and it was started by the collector itself (no evidence program among
its ancestors): awk run by ``augenrules`` is part of ``augenrules``' cost. Every other program
the collector starts (``nft``, ``sudo -l``, ``dpkg-query``, ``find``, ``stat``, ...) is
*evidence*: its argv, as recorded, runs once in step 3. Files that glue opened for reading are
the evidence the glue reads: a path the shell opened (redirections; directories for globs), or
a path a glue tool was given in its argv (or that lies under such a directory). What glue opens
for itself (the loader, libraries, locale, ``/etc/passwd`` for ``ls -l``'s names, ``/proc/self``)
and the collector's scratch files (under the directories it created) are left out.

The /proc paths keep the process IDs of the capture; processes started since (the
collector's own, the bench's ssh sessions) are absent, so those reads fail cheaply.

Usage (root; podman, strace and nsenter on PATH)::

    .venv/bin/python bench/floor.py [--rounds 10] [--hosts hardened default] [--json]
    .venv/bin/python bench/floor.py --lab /tmp/harden-bench-XXXX/lab --prefix harden-floor

Without ``--lab`` it starts its own lab (``--prefix``, default ``harden-floor``) and removes it
at the end; with ``--lab`` it uses the running lab whose files are in that directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import cgroup_cpu_reader, harden_audit, inventory_vars, ssh_argv

from hardening.facts.collector import build_linux_script
from hardening.lab import LabHost, lab_down, lab_status, lab_up
from hardening.transport.base import plan_command

PREFIX = "harden-floor"
NONCE = "FLOOR0"
# What harden (paramiko 5) and the lab's OpenSSH 9.2 agree on; OpenSSH's own client picks
# sntrup761x25519-sha512, which costs sshd ≈ 6–8 ms more per connection here.
HARDEN_KEX = "curve25519-sha256@libssh.org"

# Glue: programs that only move, cut, test or label what the evidence programs and files
# produce, or manage the collector's own scratch space and time limits. An agent (or any
# tool with its own parser) needs none of them: it reads the same files and runs the same
# programs, and does the rest in its own process.
# - shells: sh, dash, bash, and busybox when it runs one of these applets (the shell on hosts
#   without dash; ``busybox --list``, a netcat's help output, is evidence: see program_name);
# - readers and filters: cat, head, grep, sed, sort, tr, od, dd, cmp, awk (mawk, gawk);
# - scratch space and time limits: mktemp, mkfifo, mkdir, rm, timeout, xargs, env;
# - facts a tool has from /proc or its own syscalls: ls (directory lists, /proc/*/fd links),
#   readlink (/proc/*/exe), uname, id, hostname, printf.
GLUE = frozenset(
    {
        "sh",
        "dash",
        "bash",
        "ash",
        "cat",
        "head",
        "grep",
        "sed",
        "sort",
        "tr",
        "od",
        "dd",
        "cmp",
        "awk",
        "mawk",
        "gawk",
        "mktemp",
        "mkfifo",
        "mkdir",
        "rm",
        "timeout",
        "xargs",
        "env",
        "ls",
        "readlink",
        "uname",
        "id",
        "hostname",
        "printf",
    }
)
SHELLS = frozenset({"sh", "dash", "bash", "ash"})
# What starts the collector in the capture (nsenter into the container); neither glue nor evidence.
WRAPPERS = frozenset({"nsenter"})
# Opened by a program for itself (loader, libraries, locale, its own /proc entries): never evidence.
_OWN = re.compile(
    r"^(/etc/ld\.so\.|/(usr/)?lib(32|64|x32)?/|/usr/(share|lib)/locale/|/usr/lib/.*/gconv/"
    r"|/proc/(self|thread-self)(/|$)|/proc/filesystems$|/dev/)"
)
_FORKS = frozenset({"clone", "clone3", "fork", "vfork"})
_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^([a-z0-9_]+)\((.*)$")
_RESUMED = re.compile(r"^<\.\.\. ([a-z0-9_]+) resumed>(.*)$")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+/\* (\d+) in strace's PID NS \*/)?(?:\s.*)?$")


# ------------------------------------------------------------------------------ strace parsing


@dataclass(frozen=True)
class Call:
    """One system call of ``strace -f`` output, an unfinished call joined with its resumption."""

    pid: int
    name: str
    args: str  # the text between the parentheses
    ret: int | None  # None: no result ("= ?": the process exited in the call); a PID in strace's namespace


def decode_c_string(text: str) -> str:
    """strace's quoted string body (C escapes: ``\\n``, ``\\"``, ``\\x41``, ``\\101``) as text.

    >>> decode_c_string(r'nft -f \\"$1\\" \\x41\\101\\n')
    'nft -f "$1" AA\\n'
    """
    simple = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b", "\\": "\\", '"': '"'}
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt == "x":
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", text[i + 1 :])
            assert m is not None
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def parse_strace(lines: Iterable[str]) -> list[Call]:
    """The calls of ``strace -f`` output (with PIDs), in the order they started.

    ``<unfinished ...>`` / ``<... name resumed>`` pairs become one call at the position of the
    unfinished part, so a child's first call never comes before the parent's fork started.
    Signals, exits and other non-call lines are skipped.
    """
    slots: list[Call | None] = []
    pending: dict[int, tuple[int, str, str]] = {}  # pid -> (slot, name, first half of the text)
    for raw in lines:
        m = _LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        if rest.startswith(("---", "+++")):
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            if pid not in pending:
                continue
            slot, name, first = pending.pop(pid)
            slots[slot] = _finish(pid, name, first + resumed.group(2))
            continue
        call = _CALL.match(rest)
        if not call:
            continue
        name, body = call.group(1), call.group(2)
        if body.endswith("<unfinished ...>"):
            pending[pid] = (len(slots), name, body[: -len("<unfinished ...>")].rstrip())
            slots.append(None)
            continue
        slots.append(_finish(pid, name, body))
    return [c for c in slots if c is not None]


def _finish(pid: int, name: str, body: str) -> Call | None:
    found = list(_RESULT.finditer(body))
    if not found:
        return None
    m = found[-1]
    # --decode-pids=pidns: a PID the tracee sees in its own namespace, then strace's view of it
    value = m.group(2) or m.group(1)
    return Call(pid, name, body[: m.start()], None if value == "?" else int(value))


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')


def strings(args: str) -> list[str]:
    """The quoted strings among a call's arguments, decoded (``execve``: path, then argv)."""
    return [decode_c_string(m.group(1)) for m in _STRING.finditer(args)]


def execve_argv(args: str) -> tuple[str, tuple[str, ...]]:
    """Path and argv of an ``execve`` call's arguments (the environment is printed as a count)."""
    path_m = _STRING.match(args)
    if path_m is None:
        raise ValueError(f"not an execve: {args[:80]!r}")
    start = args.index("[", path_m.end())
    depth, i = 0, start
    while i < len(args):
        if args[i] == '"':
            i = _STRING.match(args, i).end()  # type: ignore[union-attr]
            continue
        if args[i] == "[":
            depth += 1
        elif args[i] == "]":
            depth -= 1
            if depth == 0:
                break
        i += 1
    argv_text = args[start + 1 : i]
    if any(m.group(2) for m in _STRING.finditer(argv_text)) or argv_text.rstrip().endswith("..."):
        raise ValueError(f"argv truncated by strace (raise -s): {argv_text[:80]!r}")
    return decode_c_string(path_m.group(1)), tuple(strings(argv_text))


# ------------------------------------------------------------------------------ classification


@dataclass(frozen=True)
class Evidence:
    """What the collector ran and read on one host, split into evidence and glue."""

    programs: tuple[tuple[str, ...], ...]  # argv of each evidence program (argv[0]: the executable's path)
    files: tuple[str, ...]  # files the glue read
    dirs: tuple[str, ...]  # directories the glue listed
    glue: Mapping[str, int] = field(default_factory=dict)  # glue program -> executions
    processes: int = 0  # every process the capture saw, wrapper excluded
    repeated: int = 0  # evidence runs left out because the same argv already ran
    unresolved: tuple[str, ...] = ()  # relative paths glue opened (not reproducible; reported)
    scratch_args: tuple[tuple[str, ...], ...] = ()  # evidence argv still naming a scratch path (reported)


@dataclass
class _Proc:
    program: str  # what the last successful execve runs ("" before the first; busybox: the applet)
    glue: bool  # that program is glue
    under_evidence: bool  # an evidence program is this process or one of its ancestors
    argv: tuple[str, ...] = ()
    children_free: bool = False  # evidence whose children run the collector's own script (find -exec)


def program_name(path: str, argv: Sequence[str]) -> str:
    """The program an execve runs: the file's name, or busybox's applet (``busybox sh``, ``sh`` -> sh)."""
    name = os.path.basename(path)
    if name != "busybox":
        return name
    applet = os.path.basename(argv[0]) if argv else ""
    if applet == "busybox":
        applet = argv[1] if len(argv) > 1 else ""
    return applet if applet in GLUE else name


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def drop_scratch_exec(argv: tuple[str, ...], scratch: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """``find`` without the ``-exec`` clauses that run the collector's own scratch script.

    The binaries piece runs ``find ... -exec sh $HT/binrec.sh $HT {} +``: find's walk is evidence,
    the script it starts is the collector's (its own glue and evidence are classified like the
    collector's other processes). Returns the argv to run (``-print`` when no action is left)
    and whether a clause was dropped. Other programs are returned unchanged.
    """
    if os.path.basename(argv[0]) != "find" or not scratch:
        return argv, False
    out: list[str] = []
    dropped = False
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < len(argv) and not (argv[j] == ";" or (argv[j] == "+" and argv[j - 1] == "{}")):
                j += 1
            if any(_under(a.rstrip("/"), scratch) for a in argv[i : j + 1]):
                dropped = True
                i = j + 1
                continue
        out.append(word)
        i += 1
    actions = ("-exec", "-execdir", "-ok", "-okdir", "-print", "-print0", "-printf", "-fprint", "-ls", "-delete")
    if dropped and not any(w in actions for w in out):
        out.append("-print")
    return tuple(out), dropped


def classify(calls: Sequence[Call], glue: frozenset[str] = GLUE) -> Evidence:
    """Split the collector's processes and reads into evidence and glue (see the module doc)."""
    parent: dict[int, int] = {}
    for c in calls:
        if c.name in _FORKS and c.ret is not None and c.ret > 0:
            parent.setdefault(c.ret, c.pid)
    procs: dict[int, _Proc] = {}
    programs: list[tuple[str, ...]] = []
    glue_runs: Counter[str] = Counter()
    scratch: list[str] = []
    scratch_args: list[tuple[str, ...]] = []
    reads: list[tuple[str, bool]] = []  # (path, is_directory)
    unresolved: list[str] = []
    seen: set[int] = set()

    def state(pid: int) -> _Proc:
        if pid not in procs:
            up = procs.get(parent[pid]) if pid in parent else None
            if up is None:
                procs[pid] = _Proc("", False, False)
            else:
                under = up.under_evidence and not up.children_free
                procs[pid] = _Proc(up.program, up.glue, under, up.argv)
        return procs[pid]

    for c in calls:
        seen.add(c.pid)
        p = state(c.pid)
        if c.name == "execve" and c.ret == 0:
            path, argv = execve_argv(c.args)
            name = program_name(path, argv)
            p.program, p.argv, p.glue = name, argv, name in glue
            if p.under_evidence or name in WRAPPERS:
                continue
            if p.glue:
                glue_runs[name] += 1
                continue
            p.under_evidence = True
            run, p.children_free = drop_scratch_exec((path, *argv[1:]), scratch)
            if any(_under(a.rstrip("/"), scratch) for a in run):
                scratch_args.append(run)
            programs.append(run)
        elif c.name in ("mkdir", "mkdirat") and c.ret == 0 and p.glue and not p.under_evidence:
            found = strings(c.args)
            if found:
                scratch.append(found[-1].rstrip("/"))
        elif c.name == "openat" and c.ret is not None and c.ret >= 0:
            if p.under_evidence or not p.glue or "O_RDONLY" not in c.args:
                continue
            found = strings(c.args)
            if not found:
                continue
            path = found[0]
            if not c.args.startswith("AT_FDCWD") or not path.startswith("/"):
                if p.program in SHELLS:
                    unresolved.append(path)
                continue
            if p.program not in SHELLS and not _named(path, p.argv[1:]):
                continue
            reads.append((path, "O_DIRECTORY" in c.args))
    wrappers = {pid for pid, p in procs.items() if p.program in WRAPPERS}
    keep: list[str] = []
    dirs: list[str] = []
    for path, is_dir in reads:
        norm = path.rstrip("/") or "/"
        if _OWN.match(norm) or _under(norm, scratch):
            continue
        target = dirs if is_dir else keep
        if norm not in target:
            target.append(norm)
    unique = list(dict.fromkeys(programs))
    return Evidence(
        programs=tuple(unique),
        files=tuple(keep),
        dirs=tuple(dirs),
        glue=dict(sorted(glue_runs.items(), key=lambda kv: (-kv[1], kv[0]))),
        processes=len(seen - wrappers),
        repeated=len(programs) - len(unique),
        unresolved=tuple(dict.fromkeys(unresolved)),
        scratch_args=tuple(dict.fromkeys(scratch_args)),
    )


def _named(path: str, args: Sequence[str]) -> bool:
    """``path`` is one of a glue tool's arguments, or lies under one (a directory it was given)."""
    norm = path.rstrip("/")
    for a in args:
        if not a.startswith("/"):
            continue
        arg = a.rstrip("/")
        if norm == arg or norm.startswith(arg + "/"):
            return True
    return False


def evidence_script(ev: Evidence) -> str:
    """A POSIX sh script: every evidence program once, one cat of the files, the directory globs.

    Every word comes from the capture and is quoted (``shlex.quote``); nothing is concatenated.
    """
    lines = [
        "LC_ALL=C",
        "export LC_ALL",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "export PATH",
        "cd /",
    ]
    lines += [f"{shlex.join(argv)} </dev/null >/dev/null 2>&1" for argv in ev.programs]
    if ev.files:
        lines.append(f"cat -- {' '.join(shlex.quote(f) for f in ev.files)} </dev/null >/dev/null 2>&1")
    if ev.dirs:
        words = " ".join(shlex.quote(d) for d in ev.dirs)
        lines.append(f'for _d in {words}; do set -- "$_d"/* "$_d"/.[!.]*; done')
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ measurement


@dataclass(frozen=True)
class Stat:
    median: float
    low: float
    runs: int


def summarize(samples: Sequence[float]) -> Stat:
    return Stat(statistics.median(samples), min(samples), len(samples))


def container_pid(container: str) -> str:
    out = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", container], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def capture(container: str, script: str, work: Path) -> list[str]:
    """strace output of harden's collector run once inside ``container`` (root, its namespaces)."""
    trace = work / f"{container}.strace"
    # --decode-pids=pidns: fork's result (the child's PID inside the container) in strace's namespace
    argv = ["strace", "-f", "-qq", "--decode-pids=pidns", "-s", "1048576", "-o", str(trace)]
    argv += ["-e", "trace=execve,openat,clone,clone3,fork,vfork,mkdir,mkdirat"]
    argv += ["nsenter", "-t", container_pid(container), "-p", "-n", "-u", "-i", "-m", "sh", "-s"]
    done = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=300, cwd="/")
    if done.returncode != 0 or f"@@{NONCE} B __done__".encode() not in done.stdout:
        raise SystemExit(f"{container}: the collector did not finish (exit {done.returncode}): {done.stderr[-500:]!r}")
    return trace.read_text(errors="replace").splitlines()


def measure(read_cpu: Callable[[], int], step: Step, env: Mapping[str, str], settle: float) -> float:
    """Milliseconds of the container's CPU while ``step`` runs (and ``settle`` s after: sshd's exit)."""
    argv = step.argv
    before = read_cpu()
    # a session of its own: no terminal for ssh to ask on (the password comes from SSH_ASKPASS)
    done = subprocess.run(argv, input=step.stdin, capture_output=True, timeout=300, env=env, start_new_session=True)
    time.sleep(settle)
    spent = (read_cpu() - before) / 1000
    if done.returncode != 0:
        raise SystemExit(f"{argv[-1][:60]!r} failed (exit {done.returncode}): {done.stderr[-300:]!r}")
    return spent


def check_tools() -> None:
    if os.geteuid() != 0:
        raise SystemExit("floor.py needs root: nsenter into the lab containers, strace, their cgroups")
    for tool in ("podman", "strace", "nsenter", "ssh"):
        if shutil.which(tool) is None:
            raise SystemExit(f"floor.py needs {tool} on PATH")


def breakdown(container: str, ev: Evidence, rounds: int) -> list[tuple[str, float]]:
    """CPU (ms, median over ``rounds``) of each evidence program, of the one cat and of the globs,
    each run alone in ``container`` as root (``nsenter``; user+sys of the children), costliest first.
    The sum is below the evidence row: no sshd, sudo or login shell, and no sh around each."""
    pid = container_pid(container)
    enter = ["nsenter", "-t", pid, "-p", "-n", "-u", "-i", "-m"]
    parts = [(shlex.join(argv), [*enter, *argv]) for argv in ev.programs]
    if ev.files:
        parts.append((f"cat ({len(ev.files)} files)", [*enter, "cat", "--", *ev.files]))
    if ev.dirs:
        globs = 'for _d in "$@"; do set -- "$_d"/* "$_d"/.[!.]*; done'
        parts.append((f"sh: globs ({len(ev.dirs)} directories)", [*enter, "sh", "-c", globs, "sh", *ev.dirs]))
    spent: dict[str, list[float]] = {label: [] for label, _ in parts}
    for _ in range(rounds):
        for label, argv in parts:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, cwd="/")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent[label].append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return sorted(((label, statistics.median(v)) for label, v in spent.items()), key=lambda kv: -kv[1])


def subprocess_cpu_ms(argv: list[str], rounds: int = 5) -> float:
    """Median user+sys CPU (ms) of ``argv`` and its children."""
    runs = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, capture_output=True, timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        runs.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return statistics.median(runs)


def idle_rate(read_cpu: Callable[[], int], seconds: float = 2.0) -> float:
    """The container's CPU in ms per second while nothing is asked of it."""
    before = read_cpu()
    time.sleep(seconds)
    return (read_cpu() - before) / 1000 / seconds


@dataclass(frozen=True)
class Step:
    kind: str
    argv: list[str]
    stdin: bytes | None = None


@dataclass(frozen=True)
class Target:
    """How harden reaches a lab host: OpenSSH argv, environment (askpass), become and its password."""

    ssh: list[str]
    env: Mapping[str, str]
    become: bool
    password: str | None

    def steps(self, collector: str, evidence: str) -> list[Step]:
        """The measured runs. The sudo row and the scripts' wrapper are harden's own for this host:
        ``sudo -n``, or with a become password ``sudo -S`` (the password is the first line of stdin;
        sudo reads it byte by byte, the shell the rest), or no sudo for a root login."""
        pw = b"" if self.password is None else self.password.encode() + b"\n"
        sudo = "sudo -n true" if self.password is None else "sudo -S -p '' true"
        wrapper = plan_command(self.become, with_password=self.password is not None).command
        return [
            Step("ssh true", [*self.ssh, "true"]),
            Step("ssh sudo true", [*self.ssh, sudo], pw or None),
            Step("evidence only", [*self.ssh, wrapper], pw + evidence.encode()),
            Step("collector", [*self.ssh, wrapper], pw + collector.encode()),
        ]


def target(inventory: Path, host: str, askpass: Path, kex: str = "") -> Target:
    """The lab host's way in, from its inventory line (key, or password through ``askpass``);
    ``kex``: OpenSSH's key exchange (empty: its own default)."""
    words = inventory_vars(inventory, host)
    ssh = ssh_argv(inventory, host)
    if kex:
        ssh = [ssh[0], "-o", f"KexAlgorithms={kex}", *ssh[1:]]
    env = dict(os.environ)
    password = words.get("ansible_password")
    if password is not None and "ansible_ssh_private_key_file" not in words:
        ssh = [w.replace("BatchMode=yes", "BatchMode=no") for w in ssh]
        env |= {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "HARDEN_FLOOR_PASSWORD": password}
    become = words.get("ansible_become", "false").lower() in ("true", "yes", "1")
    return Target(ssh, env, become, words.get("ansible_become_password") if become else None)


KINDS = ("ssh true, default kex", "ssh true", "ssh sudo true", "evidence only", "collector", "harden audit")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--hosts", nargs="+", default=["default", "hardened", "half", "ufw"])
    ap.add_argument("--prefix", default=PREFIX, help="lab container name prefix")
    ap.add_argument("--lab", type=Path, help="directory of a running lab (inventory.ini, key); default: start one")
    ap.add_argument(
        "--kex",
        default=HARDEN_KEX,
        help="OpenSSH KexAlgorithms for the ssh rows ('': OpenSSH's default; the default: what harden's paramiko"
        " negotiates with the lab's OpenSSH 9.2)",
    )
    ap.add_argument("--no-audit", action="store_true", help="skip the harden audit row")
    ap.add_argument("--settle", type=float, default=0.3, help="seconds after each run before reading the cgroup")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON document")
    ap.add_argument("--show", action="store_true", help="print each host's evidence script")
    ap.add_argument("--breakdown", action="store_true", help="CPU of each evidence program alone (nsenter)")
    args = ap.parse_args()
    check_tools()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    work = Path(tempfile.mkdtemp(prefix="harden-floor-"))
    started = args.lab is None
    lab_dir = work / "lab" if started else args.lab
    try:
        if started:
            print(f"# lab up (prefix {args.prefix}) in {lab_dir}", flush=True)
            hosts = lab_up(lab_dir, prefix=args.prefix).hosts
        else:
            hosts = tuple(lab_status(args.prefix))
        return run(args, lab_dir, {h.name: h for h in hosts}, work)
    finally:
        if started:
            lab_down(prefix=args.prefix, workdir=lab_dir)
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, lab_dir: Path, hosts: Mapping[str, LabHost], work: Path) -> int:
    inventory = lab_dir / "inventory.ini"
    missing = [h for h in args.hosts if h not in hosts or not hosts[h].running]
    if missing or not inventory.is_file():
        raise SystemExit(f"no running lab host {missing} with prefix {args.prefix} / no {inventory}")
    collector = build_linux_script(NONCE)
    askpass = work / "askpass"
    askpass.write_text("#!/bin/sh\nprintf '%s\\n' \"$HARDEN_FLOOR_PASSWORD\"\n")
    askpass.chmod(0o700)
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    plans: dict[str, list[Step]] = {}
    envs: dict[str, Mapping[str, str]] = {}
    readers: dict[str, Callable[[], int]] = {}
    found: dict[str, Evidence] = {}
    for name in args.hosts:
        host = hosts[name]
        ev = classify(parse_strace(capture(host.container, collector, work)))
        found[name] = ev
        script = evidence_script(ev)
        print(
            f"# {name}: collector {ev.processes} processes; evidence {len(ev.programs)} programs"
            f" ({ev.repeated} repeats left out), {len(ev.files)} files, {len(ev.dirs)} directories;"
            f" glue {sum(ev.glue.values())} runs: " + ", ".join(f"{k} {v}" for k, v in ev.glue.items()),
            flush=True,
        )
        if ev.unresolved:
            print(f"#   relative paths opened by the shell (not reproduced): {list(ev.unresolved)}", flush=True)
        for argv in ev.scratch_args:
            print(f"#   evidence naming the collector's scratch files (runs as recorded): {shlex.join(argv)}")
        if args.show:
            print(script, flush=True)
        way = target(inventory, name, askpass, args.kex)
        plan = way.steps(collector, script)
        if args.kex:
            plan.insert(0, Step("ssh true, default kex", [*target(inventory, name, askpass).ssh, "true"]))
        if not args.no_audit:
            plan.append(Step("harden audit", []))
        plans[name] = plan
        envs[name] = way.env
        readers[name] = cgroup_cpu_reader(host.container)
    if args.breakdown:
        nsenter_ms = subprocess_cpu_ms(["nsenter", "-t", container_pid(hosts[args.hosts[0]].container), "true"])
        print(f"# breakdown: each alone via nsenter, median of {args.rounds}; nsenter + true: {nsenter_ms:.1f} ms")
        for name in args.hosts:
            parts = breakdown(hosts[name].container, found[name], args.rounds)
            net = sum(ms - nsenter_ms for _, ms in parts)
            print(f"# {name}: sum {sum(ms for _, ms in parts):.0f} ms, {net:.0f} ms without nsenter's")
            for label, ms in parts:
                print(f"#   {ms:6.1f}  {label[:110]}")
    idle = {name: idle_rate(readers[name]) for name in args.hosts}
    samples: dict[str, dict[str, list[float]]] = {n: {st.kind: [] for st in plans[n]} for n in args.hosts}
    for r in range(args.rounds):
        for name in args.hosts:
            plan = plans[name]
            shift = r % len(plan)  # each kind takes each place in the order in turn
            for step in plan[shift:] + plan[:shift]:
                if step.kind == "harden audit":
                    before = readers[name]()
                    done = harden_audit(inventory, work / f"out-{name}", "--limit", name)
                    time.sleep(args.settle)
                    samples[name][step.kind].append((readers[name]() - before) / 1000)
                    if done.rc not in (0, 1, 2):
                        raise SystemExit(f"harden audit --limit {name} exited {done.rc}")
                else:
                    samples[name][step.kind].append(measure(readers[name], step, envs[name], args.settle))
        print(f"# round {r + 1}/{args.rounds} done", flush=True)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    stats = {n: {k: summarize(v) for k, v in kinds.items()} for n, kinds in samples.items()}
    print_table(stats, idle, args.rounds)
    if args.json:
        doc = {
            "rounds": args.rounds,
            "load_average": os.getloadavg(),
            "hosts": {
                n: {
                    "idle_ms_per_s": idle[n],
                    "evidence": {
                        "programs": [list(p) for p in found[n].programs],
                        "files": list(found[n].files),
                        "dirs": list(found[n].dirs),
                        "glue": dict(found[n].glue),
                        "processes": found[n].processes,
                    },
                    "host_cpu_ms": {
                        k: {"median": s.median, "min": s.low, "samples": samples[n][k]} for k, s in stats[n].items()
                    },
                }
                for n in args.hosts
            },
        }
        print(json.dumps(doc, indent=1))
    return 0


def print_table(stats: Mapping[str, Mapping[str, Stat]], idle: Mapping[str, float], rounds: int) -> None:
    names = list(stats)
    kinds = [k for k in KINDS if any(k in stats[n] for n in names)]
    print(f"\n# host CPU per run, cgroup of the lab container: median (min) ms over {rounds} alternating rounds")
    print(f"{'':<18}" + "".join(f"{n:>16}" for n in names))
    for k in kinds:
        cells = [f"{stats[n][k].median:7.1f} ({stats[n][k].low:5.1f})" if k in stats[n] else "" for n in names]
        print(f"{k:<18}" + "".join(f"{c:>16}" for c in cells))
    floor = [stats[n]["evidence only"].median for n in names]
    rest = [stats[n]["collector"].median - stats[n]["evidence only"].median for n in names]
    print(f"{'glue (coll.-evid.)':<18}" + "".join(f"{r:16.1f}" for r in rest))
    print(f"{'idle, ms/s':<18}" + "".join(f"{idle[n]:16.2f}" for n in names))
    print(f"\n# floor (evidence only, median): {min(floor):.0f}-{max(floor):.0f} ms; target <= 100 ms")


if __name__ == "__main__":
    sys.exit(main())
