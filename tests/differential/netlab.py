"""Two network namespaces joined only by a veth pair: the kernel as the egress oracle.

``client`` holds the firewall state under test and runs ``harden audit``; ``peer`` listens.
Addresses come only from 198.19.0.0/16 and 2001:db8::/32; neither namespace has any link to
the root namespace or a physical interface, and every probe's route is checked first
(``ip route get`` must name the veth). Namespaces are named ``<prefix><index>c``/``p`` and
deleted by name in :meth:`Pair.close`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CLIENT_V4, PEER_V4 = "198.19.0.1", "198.19.0.2"
CLIENT_V6, PEER_V6 = "2001:db8::1", "2001:db8::2"
#: destinations the peer answers on (besides its link addresses)
ALLOWED_V4, OUTSIDE_V4, ARBITRARY_V4 = "198.19.1.1", "198.19.2.1", "198.19.77.77"
ALLOWED_V6, OUTSIDE_V6, ARBITRARY_V6 = "2001:db8:1::1", "2001:db8:2::1", "2001:db8:77::77"
PEER_ADDRS = {
    4: (ALLOWED_V4, OUTSIDE_V4, ARBITRARY_V4),
    6: (ALLOWED_V6, OUTSIDE_V6, ARBITRARY_V6),
}
SAFE_NETS = ("198.19.", "2001:db8:")
VETH_C, VETH_P = "hdc0", "hdp0"
PROBE_UID = 65534
PEER_SCRIPT = Path(__file__).with_name("peer.py")
PROBE_SCRIPT = Path(__file__).with_name("probe.py")


class NetlabError(RuntimeError):
    pass


def sh(args: list[str], timeout: float = 20, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and res.returncode != 0:
        raise NetlabError(f"{' '.join(args)[:200]}: rc={res.returncode} {res.stderr.strip()[:400]}")
    return res


def _safe(addr: str) -> bool:
    return addr.startswith(SAFE_NETS)


@dataclass
class Pair:
    """One client/peer namespace pair (created by :func:`make_pair`)."""

    client: str
    peer: str
    ports: tuple[int, ...]
    logdir: Path  # the test's own temporary directory
    listener: subprocess.Popen[str] | None = None
    _procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.logdir / f"peer-{self.peer}.log"

    def ns(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.client, *args]

    def check_routes(self) -> None:
        """Every destination must leave by the veth (hard network rule)."""
        for fam, addrs in PEER_ADDRS.items():
            for a in addrs:
                if not _safe(a):
                    raise NetlabError(f"unsafe destination {a}")
                out = sh(["ip", "-n", self.client, f"-{fam}", "route", "get", a]).stdout
                if f"dev {VETH_C}" not in out:
                    raise NetlabError(f"route to {a} does not use {VETH_C}: {out.strip()}")

    def start_peer(self) -> None:
        self.listener = subprocess.Popen(
            ["ip", "netns", "exec", self.peer, sys.executable, str(PEER_SCRIPT), str(self.log), *map(str, self.ports)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.listener.stdout is not None
        line = self.listener.stdout.readline()  # "ready"
        if line.strip() != "ready":
            err = self.listener.stderr.read()[:300] if self.listener.stderr else ""
            raise NetlabError(f"peer listener did not start: {line!r} {err}")

    def probe(
        self, probes: list[tuple[int, str, str, int]], uid: int = PROBE_UID, timeout: float = 0.4
    ) -> dict[tuple[int, str, str, int], bool]:
        """(family, proto, address, port) -> admitted, sent by ``uid`` (never root).

        TCP: the handshake completed (the peer listens on every probed port, so a refusal is a
        local reject). UDP: the peer logged the datagram.
        """
        if uid == 0:
            raise NetlabError("probes are sent from unprivileged uids only")
        self.check_routes()
        for _f, _p, a, _port in probes:
            if not _safe(a):
                raise NetlabError(f"unsafe destination {a}")
        cmd = self.ns("setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                      sys.executable, "-I", str(PROBE_SCRIPT), str(timeout))  # fmt: skip
        res = sh(cmd, timeout=30, input=json.dumps(probes))
        tcp = {tuple(k): v for k, v in json.loads(res.stdout)}
        time.sleep(0.1)
        seen = self.peer_seen()
        out = {}
        for f, p, a, port in probes:
            key = (f, p, a, port)
            out[key] = bool(tcp.get(key)) if p == "tcp" else f"{p} {a} {port} {uid}" in seen
        return out

    def peer_seen(self) -> set[str]:
        """Tokens the peer received so far (UDP datagrams): "udp ADDR PORT"."""
        path = self.log
        return set(path.read_text().splitlines()) if path.exists() else set()

    def close(self) -> None:
        if self.listener is not None and self.listener.poll() is None:
            self.listener.kill()
            self.listener.wait(5)
        self.log.unlink(missing_ok=True)
        for name in (self.client, self.peer):
            sh(["ip", "netns", "del", name], check=False)


def make_pair(prefix: str, index: int, ports: tuple[int, ...], logdir: Path) -> Pair:
    client, peer = f"{prefix}{index}c", f"{prefix}{index}p"
    logdir.mkdir(parents=True, exist_ok=True)
    pair = Pair(client, peer, ports, logdir)
    try:
        sh(["ip", "netns", "add", client])
        sh(["ip", "netns", "add", peer])
        # the veth is created inside the client namespace: it never exists in the root namespace
        sh(["ip", "-n", client, "link", "add", VETH_C, "type", "veth", "peer", "name", VETH_P, "netns", peer])
        for ns, dev in ((client, VETH_C), (peer, VETH_P)):
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0"])  # fmt: skip
            sh(["ip", "-n", ns, "link", "set", dev, "up"])
        sh(["ip", "-n", client, "addr", "add", f"{CLIENT_V4}/24", "dev", VETH_C])
        sh(["ip", "-n", peer, "addr", "add", f"{PEER_V4}/24", "dev", VETH_P])
        sh(["ip", "-n", client, "-6", "addr", "add", f"{CLIENT_V6}/64", "dev", VETH_C, "nodad"])
        sh(["ip", "-n", peer, "-6", "addr", "add", f"{PEER_V6}/64", "dev", VETH_P, "nodad"])
        for fam, addrs in PEER_ADDRS.items():
            for a in addrs:
                plen = "32" if fam == 4 else "128"
                sh(["ip", "-n", peer, f"-{fam}", "addr", "add", f"{a}/{plen}", "dev", VETH_P]
                   + ([] if fam == 4 else ["nodad"]))  # fmt: skip
        sh(["ip", "-n", client, "route", "add", "default", "via", PEER_V4, "dev", VETH_C])
        sh(["ip", "-n", client, "-6", "route", "add", "default", "via", PEER_V6, "dev", VETH_C])
        pair.check_routes()
        pair.start_peer()
    except BaseException:
        pair.close()
        raise
    return pair


def leftover(prefix: str) -> list[str]:
    out = sh(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


#: Namespace names of this suite: ``hd<pid of the pytest run>x<index>c|p``.
PREFIX = "hd"
_OURS = re.compile(rf"^{PREFIX}(\d+)x\d+[cp]$")


def prefix_for(pid: int) -> str:
    return f"{PREFIX}{pid}x"


def stale(names: list[str] | None = None) -> list[str]:
    """Namespaces of this suite left by an earlier run that was killed: the suite's fixed name
    pattern, and the run's pid (in the name) no longer exists. Others' namespaces never match."""
    if names is None:
        names = [line.split()[0] for line in sh(["ip", "netns", "list"]).stdout.splitlines() if line.split()]
    out = []
    for name in names:
        m = _OURS.match(name)
        if m and not Path(f"/proc/{int(m.group(1))}").exists():
            out.append(name)
    return out


def remove_stale() -> list[str]:
    """Delete :func:`stale` namespaces by name; returns their names."""
    names = stale()
    for name in names:
        sh(["ip", "netns", "del", name], check=False)
    return names


def available() -> str | None:
    if os.geteuid() != 0:
        return "the differential suite needs root (network namespaces)"
    for tool in ("ip", "nft", "iptables-legacy", "iptables-nft", "setpriv", "unshare"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
            return f"{tool} not installed"
    return None


# ---------------------------------------------------------------- harden audit inside the namespace

#: Runs inside ``ip netns exec CLIENT unshare -m --propagation private``: /etc becomes an overlay
#: whose writes go to a temporary upper directory (the host's /etc is never written), the state's
#: persisted files are copied in, then harden audits this "host" over ansible_connection=local.
_AUDIT_SH = r"""
set -eu
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
cp -a "$1/etc/." /etc/
exec "$2" audit "$1/inv.ini" --out "$1/out" --fail-on critical -T 60 --format json
"""


def run_audit(
    pair: Pair, workdir: Path, etc_files: dict[str, str], inv_vars: str, harden: str, timeout: float = 120
) -> dict:
    """``harden audit`` of the client namespace with ``etc_files`` (path under /etc -> text) in place."""
    for sub in ("upper", "work", "etc", "out"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    for rel, text in etc_files.items():
        dest = workdir / "etc" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            dest.unlink(missing_ok=True)
            dest.symlink_to(text[2:].strip())
        else:
            dest.write_text(text)
    (workdir / "inv.ini").write_text(f"{pair.client} ansible_connection=local {inv_vars}\n")
    cmd = pair.ns("unshare", "-m", "--propagation", "private", "sh", "-c", _AUDIT_SH, "sh", str(workdir), harden)
    res = sh(cmd, timeout=timeout, check=False)
    path = workdir / "out" / "results.json"
    if not path.exists():
        raise NetlabError(f"harden audit wrote no results (rc={res.returncode}): {res.stderr[-800:]}")
    return json.loads(path.read_text())
