"""services.least_privilege (Linux): what an exploited network service would hand a reverse shell.

For every service with a socket listening on a non-loopback address (TCP LISTEN or a bound UDP
socket, from ``/proc/net``; the process holding it from its fds) — the service being the topmost
process holding the socket and its descendants:

- **root without a privilege drop**: the process holding the socket runs as root and no process
  of the service runs as another user. A root master whose workers run as another user (nginx,
  Apache, postfix) has dropped privileges for the code that parses requests; OpenSSH separates
  privileges per connection (the pre-authentication child runs as the ``sshd`` account, chrooted;
  mandatory since 7.5), so a root ``sshd`` listener with that account present is not a finding.
- for each **non-root account** the service runs as: a **login shell** (not nologin/false),
  **sudo rights** (``sudo -l -U``, sudo's own evaluation; NOPASSWD and ALL called out), **write
  access to its own executable** (the file or a directory above it) **or to a web root it serves**
  (nginx ``root``/``alias``, Apache ``DocumentRoot``): an exploit then persists or escalates.
- **MAC confinement**: where the kernel enforces AppArmor or SELinux (``appcontrol``), a service
  whose processes run unconfined (AppArmor ``unconfined``, SELinux ``unconfined_t``/``initrc_t``/
  ``unconfined_service_t``) is a finding; without an LSM in force it is reported, not judged
  (``appcontrol.enforced`` judges that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hardening.checks.services_least_privilege.remedy import remedy
from hardening.checks.services_least_privilege.remedy import validate as validate_remedy  # the planner re-checks

from hardening.facts.linux import LinuxFacts, facts_json
from hardening.facts.privilege import PrivilegeFacts
from hardening.facts.processes import NOLOGIN_SHELLS, Listener, Proc, ProcessFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

__all__ = ["evaluate", "validate_remedy"]

SECTIONS = ("privilege.sudo_list", "privilege.webroots", "processes.tcp", "processes.tcp6")
# Listeners whose root master separates privileges per connection (no standing worker to see).
PER_CONNECTION_PRIVSEP = {"/usr/sbin/sshd": "sshd", "/usr/sbin/sshd-session": "sshd"}
WEB_SERVERS = frozenset({"/usr/sbin/nginx", "/usr/sbin/apache2", "/usr/sbin/httpd", "/usr/sbin/lighttpd"})
UNCONFINED = ("unconfined", "unconfined_t", "initrc_t", "unconfined_service_t", "kernel_t")


@dataclass
class Proposal:
    """What harden_service_privilege may change: accounts and web roots (re-checked by remedy.validate)."""

    nologin: list[str] = field(default_factory=list)
    sudo: list[str] = field(default_factory=list)
    webroots: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Service:
    master: Proc
    procs: list[Proc]
    listeners: list[Listener]
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.master.exe_path or self.master.comm} (pid {self.master.pid})"

    def to_json(self, facts: ProcessFacts) -> dict[str, object]:
        return {
            "service": self.master.exe_path or self.master.comm,
            "pid": self.master.pid,
            "listens": [x.label() for x in self.listeners],
            "users": sorted({facts.user(p.euid) for p in self.procs}),
            "labels": sorted({p.label for p in self.procs if p.label}),
            "findings": self.findings,
            "notes": self.notes,
        }


def services(procs: ProcessFacts) -> list[Service]:
    """Every service with a non-loopback listener: the topmost holder of the socket and its descendants."""
    holders: dict[int, list[Listener]] = {}
    for p in procs.procs.values():
        for inode in p.sockets:
            lst = procs.listeners.get(inode)
            if lst is not None and not lst.loopback:
                holders.setdefault(p.pid, []).append(lst)
    masters: dict[int, Service] = {}
    for pid, lst in holders.items():
        # Climb to the process the socket was inherited from (a master and its workers share the
        # same socket), never to PID 1: init holding a socket for socket activation is not the service.
        top = procs.procs[pid]
        mine = {x.inode for x in lst}
        while top.ppid in holders and top.ppid != 1 and mine & {x.inode for x in holders[top.ppid]}:
            top = procs.procs[top.ppid]
        svc = masters.setdefault(top.pid, Service(top, [], []))
        for x in lst:
            if x not in svc.listeners:
                svc.listeners.append(x)
    for svc in masters.values():
        if svc.master.exe_path in PER_CONNECTION_PRIVSEP:
            # its children are login sessions (they run as whoever logged in), not the service
            svc.procs = [svc.master]
            continue
        svc.procs = [svc.master] + [procs.procs[d] for d in sorted(_descendants(procs, svc.master.pid))]
    return sorted(masters.values(), key=lambda s: s.master.pid)


def _descendants(procs: ProcessFacts, pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in procs.children(todo.pop()):
            if c.pid not in out:
                out.add(c.pid)
                todo.append(c.pid)
    return out


def _writable(pv: PrivilegeFacts, path: str, uid: int, gids: frozenset[int]) -> str:
    """The path (or a directory above it) ``uid`` may write, "" when none is."""
    p = path
    while p and p != "/":
        fm = pv.files.get(p)
        if fm is not None and fm.writable_by(uid, gids):
            return p
        p = p.rsplit("/", 1)[0]
    return ""


def _account_findings(svc: Service, facts: LinuxFacts, pv: PrivilegeFacts, plan: Proposal) -> None:
    procs: ProcessFacts = facts.processes
    seen: set[int] = set()
    for p in svc.procs:
        uid = p.euid
        if uid is None or uid == 0 or uid in seen:
            continue
        seen.add(uid)
        acc = procs.account(uid)
        user = procs.user(uid)
        gids = frozenset({p.gid or -1}) | pv.proc_groups.get(p.pid, frozenset())
        if acc is not None and acc.shell not in NOLOGIN_SHELLS:
            svc.findings.append(f"runs as {user}, whose login shell is {acc.shell}")
            plan.nologin.append(user)
        rights = pv.sudo_for(user, gids)
        if rights:
            nopw = any("NOPASSWD" in r for r in rights)
            svc.findings.append(
                f"{user} has sudo rights{' without a password' if nopw else ''}: {'; '.join(rights[:3])}"
            )
            plan.sudo.append(user)
        for q in svc.procs:
            if q.euid == uid and q.exe_path:
                w = _writable(pv, q.exe_path, uid, gids)
                if w:
                    svc.findings.append(f"{user} may write its own program {q.exe_path} (through {w})")
                    plan.notes.append(f"{q.exe_path}: writable by {user} through {w}; fix its ownership by hand")
                    break
        if svc.master.exe_path in WEB_SERVERS:
            for root in pv.webroots:
                w = _writable(pv, root, uid, gids)
                if w:
                    svc.findings.append(f"{user} may write the web root {root} (through {w}): a web shell persists")
                    plan.webroots.append(root)
                    break


def _root_findings(svc: Service, procs: ProcessFacts) -> None:
    holders_root = [p for p in svc.procs if p.euid == 0 and any(i in procs.listeners for i in p.sockets)]
    others = {procs.user(p.euid) for p in svc.procs if p.euid not in (0, None)}
    if not holders_root:
        return
    if others:
        svc.notes.append(f"root master, requests handled by {', '.join(sorted(others))}")
        return
    privsep = PER_CONNECTION_PRIVSEP.get(svc.master.exe_path)
    if privsep and any(a.name == privsep for a in procs.accounts.values()):
        svc.notes.append(f"root listener with per-connection privilege separation (pre-auth child as {privsep})")
        return
    svc.findings.append("runs as root with no unprivileged worker: an exploit in it is a root shell")


def _mac_findings(svc: Service, facts: LinuxFacts) -> None:
    ac = facts.optional("appcontrol")
    labels = {p.label for p in svc.procs}
    unconfined = any(not lb or any(u in lb for u in UNCONFINED) for lb in labels)
    enforcing = False
    if ac is not None:
        sel = ac.selinux.enforce == 1
        aa = bool(ac.apparmor.profiles) and any(m in ("enforce", "kill") for _, m in ac.apparmor.profiles or ())
        enforcing = sel or aa
    label = ", ".join(sorted(lb for lb in labels if lb)) or "no MAC label"
    if enforcing and unconfined:
        svc.findings.append(f"unconfined by the MAC policy the kernel enforces ({label})")
    elif not enforcing:
        svc.notes.append(f"no MAC policy in force here ({label})")


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    procs: ProcessFacts = facts.processes
    pv: PrivilegeFacts = facts.privilege
    found = services(procs)
    plan = Proposal()
    for svc in found:
        _root_findings(svc, procs)
        _account_findings(svc, facts, pv, plan)
        _mac_findings(svc, facts)
    orphans = [x.label() for x in procs.listeners.values() if not x.loopback] if not found else []
    ev = Evidence(
        facts_json(
            {
                "services": [s.to_json(procs) for s in found],
                "unowned_listeners": orphans[:20],
                "sudo_listed": pv.sudo_listed is not None,
                "webroots": list(pv.webroots),
                "process_warnings": list(procs.warnings),
            }
        ),
        facts.sections.excerpt(*SECTIONS, limit=2500),
    )
    if not procs.fds_readable:
        return Verdict(Status.ERROR, "not root: the processes behind the listening sockets cannot be seen "
                       "(set ansible_become=true)", ev)  # fmt: skip
    bad = [s for s in found if s.findings]
    if bad:
        if any("as root with no unprivileged worker" in f for s in bad for f in s.findings):
            plan.notes.append("a root service must be reconfigured by hand (User= in its unit, or its own drop option)")
        fix = remedy(plan.nologin, plan.sudo, plan.webroots, plan.notes)
        return Verdict(Status.FAIL, "; ".join(f"{s.name}: {'; '.join(s.findings)}" for s in bad), ev, fix)
    if orphans:
        return Verdict(
            Status.ERROR,
            f"sockets listen on {', '.join(orphans[:5])} but no process here holds them (another network "
            "namespace, or fds root cannot read): cannot judge what serves them",
            ev,
        )
    if not found:
        return Verdict(Status.PASS, "no process listens on a non-loopback address", ev)
    return Verdict(
        Status.PASS,
        "; ".join(f"{s.name} on {', '.join(x.label() for x in s.listeners[:3])}: {'; '.join(s.notes)}" for s in found),
        ev,
    )
