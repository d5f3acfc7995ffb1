"""Build the lab's container image from Debian packages (no registry is reachable).

``debootstrap --variant=minbase`` makes a bookworm root file system from the machine's
configured Debian mirror, ``image_setup.sh`` finishes it, and ``podman import`` turns it
into ``localhost/harden-lab:<tag>``. The tag hashes the package list and the build
recipe, so a change rebuilds; an existing image is reused.

Example::

    >>> ref = build_image(progress=print)   # doctest: +SKIP
    >>> ref.startswith("localhost/harden-lab:")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from hardening.lab.errors import LabError, run

IMAGE_REPO = "localhost/harden-lab"
SUITE = "bookworm"
#: Packages baked into the image. Containers have no mirror: whatever a state, a check
#: or a remediation needs must be here.
PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "sudo",
    "python3",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "procps",
    "bash",
    "perl",
    "nftables",
    "iptables",
    "ufw",
    "dnsmasq",
    "auditd",
    "netcat-openbsd",
    "netcat-traditional",
    "ncat",
    "socat",
    "busybox",
    "less",
    "netbase",
    # logging.forwarding: a syslog forwarder and auditd's remote plugin
    "rsyslog",
    "audispd-plugins",
    # services.least_privilege: a web server whose master drops privileges to its workers
    "nginx",
)
#: Extra packages of the hunt's technique corpus image (``tests/support/revshell_corpus.py``): the
#: interpreters, relays and benign look-alike servers its reverse shells and look-alikes run.
#: Only the corpus lab uses ``PACKAGES + HUNT_PACKAGES``; every other lab keeps the plain image.
HUNT_PACKAGES: tuple[str, ...] = (
    "gawk",
    "php-cli",
    "ruby",
    "openssl",
    "tmux",
    "curl",
    "wget",
    "gunicorn",
    "redis-server",
    "openbsd-inetd",
)
#: Bump when the build steps in this module change in a way the hash cannot see.
RECIPE_VERSION = "1"
_BUILD_LOCK = Path("/var/tmp/harden-lab-build.lock")

Progress = Callable[[str], None]


def image_tag(packages: tuple[str, ...] = PACKAGES) -> str:
    """A short hash of the package list and the build recipe: ``image_tag()`` -> ``'3f2a9c...'``."""
    h = hashlib.sha256()
    h.update(f"{RECIPE_VERSION}\n{SUITE}\n".encode())
    h.update("\n".join(sorted(packages)).encode())
    h.update(_setup_script().encode())
    return h.hexdigest()[:12]


def image_ref(packages: tuple[str, ...] = PACKAGES) -> str:
    """The full image reference for ``packages``: ``localhost/harden-lab:<tag>``."""
    return f"{IMAGE_REPO}:{image_tag(packages)}"


def image_exists(ref: str) -> bool:
    return run(["podman", "image", "exists", ref], check=False).returncode == 0


def _setup_script() -> str:
    return resources.files("hardening.lab").joinpath("image_setup.sh").read_text(encoding="ascii")


def parse_debian_mirror(sources: dict[str, str], suite: str = SUITE) -> str | None:
    """The first ``main`` mirror URI serving ``suite`` in apt source files (name -> text).

    Handles one-line ``.list`` files and deb822 ``.sources`` files; ignores ``deb-src``
    and disabled entries. ``None`` when no such mirror is configured.

    >>> parse_debian_mirror({"a.list": "deb http://m/debian bookworm main"})
    'http://m/debian'
    """
    for name, text in sources.items():
        if name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                if suite in fields.get("suites", "").split() and "main" in fields.get("components", "").split():
                    uris = fields.get("uris", "").split()
                    if uris:
                        return uris[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words[3:]:
                    return words[1]
    return None


def configured_mirror(root: Path = Path("/etc/apt")) -> str:
    """This machine's Debian mirror for bookworm, from ``/etc/apt/sources.list*``."""
    files = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    files += sorted((root / "sources.list.d").glob("*.sources"))
    texts = {str(f): f.read_text(errors="replace") for f in files if f.is_file()}
    mirror = parse_debian_mirror(texts)
    if mirror is None:
        raise LabError(
            f"no Debian {SUITE} mirror with component main in /etc/apt/sources.list*: "
            "configure one (the lab image is built from Debian packages)"
        )
    return mirror


def build_image(progress: Progress | None = None, packages: tuple[str, ...] = PACKAGES) -> str:
    """Return the lab image reference, building it first if podman lacks it (≈1–3 min).

    Builds are serialised with a file lock so two callers never debootstrap twice.
    """
    say = progress or (lambda _msg: None)
    ref = image_ref(packages)
    if image_exists(ref):
        return ref
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap not installed: run `make install` (as root)")
    _BUILD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with _BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(ref):  # someone else built it while we waited
            return ref
        mirror = configured_mirror()
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="harden-lab-rootfs-", dir="/var/tmp") as tmp:
            rootfs = Path(tmp) / "rootfs"
            say(f"debootstrap {SUITE} from {mirror} ({len(packages)} packages) ...")
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    SUITE,
                    str(rootfs),
                    mirror,
                ],
                timeout=1200,
            )
            script = Path(tmp) / "image_setup.sh"
            script.write_text(_setup_script(), encoding="ascii")
            run(["sh", str(script), str(rootfs)])
            say(f"podman import -> {ref} ...")
            _import(rootfs, ref)
        say(f"built {ref} in {time.monotonic() - started:.0f} s")
    return ref


def _import(rootfs: Path, ref: str) -> None:
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--exclude=./var/cache/apt/archives/*.deb", "-c", "."],
        stdout=subprocess.PIPE,
    )
    try:
        imp = subprocess.run(
            ["podman", "import", "--message", "harden lab image", "-", ref],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        if tar.stdout:
            tar.stdout.close()
        tar_rc = tar.wait(timeout=600)
    if tar_rc != 0 or imp.returncode != 0:
        raise LabError(f"podman import of {ref} failed (tar exit {tar_rc}): {imp.stderr.strip()[-500:]}")
