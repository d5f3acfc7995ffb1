"""Text a host wrote that may hold secrets, and ``authorized_keys`` lines as sshd reads them (pure).

Shared by the hunt's drift baseline (``ssh_keys``, ``cron``) and its persistence entries (forced
commands, the lines shown as evidence).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

# A masked value ends where the shell's word ends: an unquoted ; | & < > ( ) or backquote is an
# operator, never part of a password (so "PASSWORD=x;nc ..." keeps the command in sight).
_W = r"[^\s;|&<>()`]+"
_SECRET = re.compile(
    r"(?i)((?<![a-z])(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|auth|credential)[\w.-]*\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|" + _W + ")"
)
_DASH_P = re.compile(r"(?<=\s)(-p|--password=)(" + _W + ")")
_SECRET_OPTION = re.compile(
    r"(?i)(?<=\s)(--?(?:pass(?:word|wd|phrase)?|token|secret|api[_-]?key|auth)[\w-]*\s+)(" + _W + ")"
)
_URL_CRED = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")
# An environment variable named for a secret (PGPASSWORD=, MYSQL_PWD=, AWS_SESSION_TOKEN=).
_ENV_SECRET = re.compile(
    r"(\b[A-Z0-9_]*(?:PASS|PWD|SECRET|TOKEN|APIKEY|API_KEY|CRED)[A-Z0-9_]*=)(\"[^\"]*\"|'[^']*'|" + _W + ")"
)
# user:password after curl/wget's -u/--user, an HTTP Authorization scheme's credentials.
_USER_PASS = re.compile(r"(?<=\s)((?:-u|--user|--proxy-user)(?:\s+|=)['\"]?[^\s:'\"]+:)([^\s'\"]+)")
_AUTH_SCHEME = re.compile(r"(?i)\b((?:bearer|basic|digest)\s+)([A-Za-z0-9._~+/=-]{6,})")
# Tools whose password option has no "pass" in its name (sshpass -p, redis-cli -a, ldapsearch -w,
# openssl -k / -pass pass:X, smbclient -U user%X), and a password piped into sudo -S.
_TOOL_PASS = re.compile(
    r"((?:\bsshpass\s+-p\s*|\bredis-cli\b[^;|&\n]*?\s-a\s+|\bldap\w*\b[^;|&\n]*?\s-w\s+|"
    r"\bopenssl\b[^;|&\n]*?\s-k\s+|\bpass:|\s-U\s+[^\s%]+%))(" + _W + ")"
)
_SUDO_S = re.compile(r"(\becho\s+)(['\"]?[^|;&\s]+['\"]?)(?=\s*\|\s*sudo\s+(?:-\w+\s+)*-\w*S)")


def mask_secrets(text: str) -> str:
    """Blank what looks like a secret in a command line: ``password=...``, ``token: ...``,
    ``mysql -pSECRET``, ``--token SECRET``, ``https://user:SECRET@``.

    >>> mask_secrets("mysqldump -pS3cret --host db; curl https://u:pw@x/ -H 'Token: abc' API_KEY=1")
    "mysqldump -p******** --host db; curl https://u:********@x/ -H 'Token: ******** API_KEY=********"
    >>> mask_secrets("rotate --token abc --verbose")
    'rotate --token ******** --verbose'
    """
    for rule in (_ENV_SECRET, _USER_PASS, _AUTH_SCHEME, _TOOL_PASS, _SUDO_S):
        text = rule.sub(lambda m: m.group(1) + "********", text)
    text = _SECRET.sub(lambda m: m.group(1) + "********", text)
    text = _DASH_P.sub(lambda m: m.group(1) + "********", text)
    text = _SECRET_OPTION.sub(lambda m: m.group(1) + "********", text)
    return _URL_CRED.sub(lambda m: m.group(1) + "********@", text)


KEY_TYPES = frozenset(
    {
        "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521", "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
    }
)  # fmt: skip
_COMMENT_OK = re.compile(r"[\w .@+-]{1,64}")


@dataclass(frozen=True)
class AuthorizedKey:
    """One ``authorized_keys`` line (sshd(8), AUTHORIZED_KEYS FILE FORMAT): its options as
    (name, value or None), key type, ``SHA256:`` fingerprint (as ``ssh-keygen -l`` prints it: the
    SHA-256 of the decoded key blob, base64 without padding) and comment (shown only when it looks
    like a plain label, see :func:`parse_authorized_key`)."""

    options: tuple[tuple[str, str | None], ...]
    keytype: str
    fingerprint: str
    comment: str


def _split_options(text: str) -> tuple[str, str] | None:
    """(options, rest of the line): the options end at the first whitespace outside double quotes."""
    quoted, i = False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted and i + 1 < len(text):
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch in " \t" and not quoted:
            return text[:i], text[i:].strip()
        i += 1
    return None


def _options(text: str) -> tuple[tuple[str, str | None], ...]:
    out: list[tuple[str, str | None]] = []
    for m in re.finditer(r'([A-Za-z0-9-]+)(?:="((?:[^"\\]|\\.)*)")?(?:,|$)', text):
        out.append((m.group(1).lower(), m.group(2)))
    return tuple(out)


def key_options(line: str) -> tuple[tuple[str, str | None], ...]:
    """The options of an ``authorized_keys`` line (names lower-cased, values unescaped), read as sshd
    does: a line that starts with a key type has none; otherwise they end at the first whitespace
    outside double quotes. Needs only the start of the line (a long key cut off still has them).

    >>> key_options('from="10.0.0.1",command="echo \\\\"hi\\\\"" ssh-ed25519 AAAA')
    (('from', '10.0.0.1'), ('command', 'echo "hi"'))
    >>> key_options('ssh-ed25519 AAAA command="x"')
    ()
    """
    words = line.strip().split(None, 1)
    if not words or words[0].startswith("#") or words[0] in KEY_TYPES or words[0].endswith("-cert-v01@openssh.com"):
        return ()
    split = _split_options(line.strip())
    if split is None:
        return ()
    return tuple((n, v.replace('\\"', '"') if v is not None else None) for n, v in _options(split[0]))


def parse_authorized_key(line: str) -> AuthorizedKey | None:
    """One ``authorized_keys`` line, or None (a comment, blank, or a line sshd would not accept:
    unknown key type, a blob that is not base64 or does not name its own type).

    The comment is kept only when it is a plain label (letters, digits, ``space . @ + -``, at most
    64) with nothing that looks like a secret; otherwise ``(comment withheld)``.

    >>> k = parse_authorized_key('command="/bin/backup --token=abc",no-pty ssh-ed25519 '
    ...     'AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8 alice@laptop')
    >>> k.keytype, k.fingerprint, k.comment
    ('ssh-ed25519', 'SHA256:6K42OwtFCCOlCXw+bvJ5IQNR6qSUpnYSBjvHECp7GeQ', 'alice@laptop')
    >>> k.options
    (('command', '/bin/backup --token=abc'), ('no-pty', None))
    """
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    words = line.split(None, 1)
    opts: tuple[tuple[str, str | None], ...] = ()
    if words[0] not in KEY_TYPES and not words[0].endswith("-cert-v01@openssh.com"):
        split = _split_options(line)
        if split is None:
            return None
        opts, line = _options(split[0]), split[1]
    parts = line.split(None, 2)
    if len(parts) < 2:
        return None
    keytype, blob_text = parts[0], parts[1]
    if keytype not in KEY_TYPES and not keytype.endswith("-cert-v01@openssh.com"):
        return None
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4 or blob[4 : 4 + int.from_bytes(blob[:4], "big")] != keytype.encode("ascii"):
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    comment = parts[2].strip() if len(parts) > 2 else ""
    if comment and (not _COMMENT_OK.fullmatch(comment) or mask_secrets(comment) != comment):
        comment = "(comment withheld)"
    return AuthorizedKey(opts, keytype, f"SHA256:{digest}", comment)
