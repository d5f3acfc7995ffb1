"""edr.sensor (Linux): a behavioural sensor runs, and watches process starts and network connections.

A sensor counts when one of its executables runs as root (``processes`` area: identified by
``/proc/PID/exe``, never by name) and, for the open sensors, its loaded configuration has rules
for process-start AND network events:

- auditd: the kernel audit is available and its LOADED rules record execve and outbound
  connect (the same coverage engine as ``audit.auditd``);
- Falco: an enabled rule at or above ``priority`` whose condition (macros expanded) names
  execve/execveat, and one naming connect/accept/send*;
- osquery: a scheduled query over ``process_events`` (Audit publisher: ``--disable_audit=false``)
  or ``bpf_process_events`` (``--enable_bpf_events``), and over ``socket_events``
  (``--audit_allow_sockets``) or ``bpf_socket_events``; ``--disable_events`` off;
- Tetragon: process execution always; network through a TracingPolicy hooking a connect path;
- Sysmon for Linux: ProcessCreate (on unless excluded entirely) and NetworkConnect (off unless
  configured) in ``/opt/sysmon/config.xml``;
- auditbeat: the ``auditd`` module's rules (execve + connect) or the ``system`` module's
  ``process`` and ``socket`` datasets.

Vendor sensors (Elastic Agent, Wazuh, Defender for Endpoint, CrowdStrike, SentinelOne) take
their detection content from their console: running is what the host can show.

``harden_required_sensors``: each named sensor must count; without it, any one that counts
passes. A sensor installed but not running fails. In a container, a sensor of the container
host cannot be seen: the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardening.auditd import coverage
from hardening.facts.linux import LinuxFacts, facts_json
from hardening.facts.processes import ProcessFacts
from hardening.facts.sensors import SensorFacts, falco_load_order, falco_rules, parse_flags
from hardening.model import Evidence, Remedy, Status, Verdict
from hardening.policy import Policy
from hardening.sensors import LINUX_SENSORS, SENSORS, Sensor

SECTIONS = (
    "sensors.packages",
    "sensors.units",
    "sensors.falco",
    "sensors.osquery",
    "sensors.tetragon",
    "sensors.sysmon",
)


@dataclass(frozen=True)
class Watch:
    """What a running sensor watches: True/False, or None when it cannot be told (why says so)."""

    process: bool | None
    network: bool | None
    why: str

    @property
    def counts(self) -> bool:
        return bool(self.process and self.network)


@dataclass(frozen=True)
class Found:
    sensor: Sensor
    pids: tuple[int, ...]  # root processes of its executables
    installed: bool
    unit_state: str  # "active", "inactive", "failed", "" (no unit)
    watch: Watch | None  # None when not running

    def to_json(self) -> dict[str, object]:
        w = self.watch
        return {
            "sensor": self.sensor.id,
            "running_pids": list(self.pids),
            "installed": self.installed,
            "unit": self.unit_state,
            "process_events": None if w is None else w.process,
            "network_events": None if w is None else w.network,
            "why": "" if w is None else w.why,
        }


def _argv_flags(procs: ProcessFacts, pids: tuple[int, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pid in pids:
        out.update(parse_flags(procs.procs[pid].argv[1:]))
    return out


def _truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("true", "1", "yes", "")


def _auditd(facts: LinuxFacts) -> Watch:
    a = facts.optional("audit")
    if a is None:
        return Watch(None, None, f"auditd state unreadable: {facts.error('audit')}")
    if a.kernel.state != "available" or a.loaded is None:
        return Watch(None, None, f"the kernel audit state could not be read ({a.kernel.reason or a.kernel.state})")
    if a.kernel.enabled == 0:
        return Watch(False, False, "auditing is disabled in the kernel (auditctl -s: enabled 0)")
    cov = coverage(a.loaded, a.machine)
    proc = not any(m.startswith("execve") for m in cov.missing)
    net = not any(m.startswith("connect") for m in cov.missing)
    return Watch(
        proc, net, f"loaded rules: {', '.join(cov.covered) or 'none'}; missing {', '.join(cov.missing) or 'nothing'}"
    )


def _falco(s: SensorFacts, argv: tuple[str, ...]) -> Watch:
    if s.falco is None:
        return Watch(None, None, "/etc/falco/falco.yaml not found: the rules Falco loads are unknown")
    if s.falco.problem:
        return Watch(None, None, s.falco.problem)
    paths = s.falco.rules_paths
    cli = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-r"]
    if cli:
        paths = tuple(cli)
    files, unread = falco_load_order(paths, list(s.falco_files))
    if unread:
        return Watch(None, None, f"rules files outside /etc/falco not read: {', '.join(unread[:5])}")
    r = falco_rules(files, s.falco.min_priority)
    if r.problems:
        return Watch(None, None, "; ".join(r.problems[:3]))
    return Watch(
        bool(r.process),
        bool(r.network),
        f"{r.loaded} rules loaded at or above {r.min_priority} from {len(r.files)} files; "
        f"{len(r.process)} watch process starts, {len(r.network)} network events",
    )


def _osquery(s: SensorFacts, procs: ProcessFacts, pids: tuple[int, ...]) -> Watch:
    if s.osquery is None:
        return Watch(None, None, "no /etc/osquery configuration: the scheduled queries are unknown")
    if s.osquery.problem:
        return Watch(None, None, s.osquery.problem)
    flags = {**s.osquery.flags, **_argv_flags(procs, pids)}
    if _truthy(flags.get("disable_events"), False):
        return Watch(False, False, "--disable_events: no event table fills")
    audit = not _truthy(flags.get("disable_audit"), True)
    bpf = _truthy(flags.get("enable_bpf_events"), False)
    q = " ".join(s.osquery.queries)
    proc = (
        audit
        and _truthy(flags.get("audit_allow_process_events"), True)
        and "process_events" in q.replace("bpf_process_events", "")
    ) or (bpf and "bpf_process_events" in q)
    net = (
        audit
        and _truthy(flags.get("audit_allow_sockets"), False)
        and "socket_events" in q.replace("bpf_socket_events", "")
    ) or (bpf and "bpf_socket_events" in q)
    return Watch(
        proc,
        net,
        f"{len(s.osquery.queries)} scheduled queries; audit publisher {'on' if audit else 'off'}, "
        f"BPF publisher {'on' if bpf else 'off'}",
    )


def _tetragon(s: SensorFacts) -> Watch:
    t = s.tetragon
    if t is not None and t.problems:
        return Watch(None, None, "; ".join(t.problems[:3]))
    net = tuple(t.network) if t else ()
    return Watch(
        True,
        bool(net),
        "process execution events are built in; "
        + (
            f"connect hooked by {', '.join(net[:3])}"
            if net
            else "no TracingPolicy in /etc/tetragon/tetragon.tp.d hooks a connect path"
        ),
    )


def _sysmon(s: SensorFacts) -> Watch:
    c = s.sysmon
    if c is None:
        return Watch(None, None, "/opt/sysmon/config.xml not found: the active configuration is unknown")
    if c.problem:
        return Watch(None, None, c.problem)
    return Watch(
        c.logs("ProcessCreate", True),
        c.logs("NetworkConnect", False),
        "from /opt/sysmon/config.xml (NetworkConnect is off unless configured)",
    )


def _auditbeat(s: SensorFacts, machine: str) -> Watch:
    c = s.auditbeat
    if c is None:
        return Watch(None, None, "/etc/auditbeat/auditbeat.yml not found")
    if c.problem:
        return Watch(None, None, c.problem)
    proc = "process" in c.datasets
    net = "socket" in c.datasets
    if c.audit_rules is not None:
        cov = coverage(c.audit_rules, machine)
        proc = proc or not any(m.startswith("execve") for m in cov.missing)
        net = net or not any(m.startswith("connect") for m in cov.missing)
    return Watch(
        proc, net, f"system datasets {list(c.datasets)}; auditd module rules {'set' if c.audit_rules else 'none'}"
    )


def watch(facts: LinuxFacts, sensor: Sensor, pids: tuple[int, ...]) -> Watch:
    """What the running ``sensor`` watches, from its configuration."""
    s: SensorFacts = facts.sensors
    procs: ProcessFacts = facts.processes
    if sensor.rules == "vendor":
        return Watch(True, True, "detection content comes from the vendor's console (not on the host): judged running")
    if sensor.id == "auditd":
        return _auditd(facts)
    if sensor.id == "falco":
        return _falco(s, procs.procs[pids[0]].argv)
    if sensor.id == "osquery":
        return _osquery(s, procs, pids)
    if sensor.id == "tetragon":
        return _tetragon(s)
    if sensor.id == "sysmon":
        return _sysmon(s)
    a = facts.optional("audit")
    return _auditbeat(s, a.machine if a else "")


def survey(facts: LinuxFacts) -> tuple[Found, ...]:
    """Every known sensor that is installed or running on the host."""
    s: SensorFacts = facts.sensors
    procs: ProcessFacts = facts.processes
    out = []
    for sensor in LINUX_SENSORS:
        pids = tuple(sorted(p.pid for p in procs.procs.values() if p.euid == 0 and sensor.matches_exe(p.exe_path)))
        units = [s.units[u] for u in sensor.linux_units if u in s.units]
        installed = bool(set(sensor.linux_packages) & s.packages) or bool(units)
        if not pids and not installed:
            continue
        state = next((u.active for u in units if u.active == "active"), units[0].active if units else "")
        out.append(Found(sensor, pids, installed or bool(pids), state, watch(facts, sensor, pids) if pids else None))
    return tuple(out)


def _describe(f: Found) -> str:
    if f.watch is None:
        unit = f" (unit {f.unit_state})" if f.unit_state else ""
        return f"{f.sensor.name} is installed but not running{unit}"
    w = f.watch
    if w.counts:
        pids = ", ".join(map(str, f.pids[:3]))
        return f"{f.sensor.name} runs (pid {pids}) and watches process starts and network events: {w.why}"
    if w.process is None or w.network is None:
        return f"{f.sensor.name} runs, but what it watches is unknown: {w.why}"
    lacking = [n for n, ok in (("process starts", w.process), ("network connections", w.network)) if not ok]
    return f"{f.sensor.name} runs but loads no rule for {' or '.join(lacking)}: {w.why}"


def _container_note(facts: LinuxFacts) -> str:
    a = facts.optional("audit")
    if a is not None and a.container_markers:
        return (
            " This is a container: a sensor on the container host (a Falco or Tetragon DaemonSet) is invisible from "
            "inside; audit that host, and waive this check for the containers it covers."
        )
    return ""


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    found = survey(facts)
    procs: ProcessFacts = facts.processes
    ev = Evidence(
        facts_json(
            {
                "sensors": [f.to_json() for f in found],
                "required": list(policy.required_sensors),
                "process_warnings": list(procs.warnings),
                "config_problems": list(facts.sensors.problems),
            }
        ),
        facts.sections.excerpt(*SECTIONS, limit=2500),
    )
    if not procs.fds_readable:
        return Verdict(
            Status.ERROR,
            "not root: other users' processes cannot be identified by executable (set ansible_become=true)",
            ev,
        )
    by_id = {f.sensor.id: f for f in found}
    said = "; ".join(_describe(f) for f in found)
    if policy.required_sensors:
        return _with_policy(facts, policy, by_id, ev)
    counting = [f for f in found if f.watch is not None and f.watch.counts]
    if counting:
        return Verdict(Status.PASS, said, ev)
    unknown = [f for f in found if f.watch is not None and (f.watch.process is None or f.watch.network is None)]
    if unknown:
        return Verdict(Status.ERROR, said, ev)
    auditd = by_id.get("auditd")
    a = facts.optional("audit")
    if (
        auditd is not None
        and len(found) == 1
        and a is not None
        and a.kernel.state == "unavailable"
        and a.persisted is not None
        and coverage(a.persisted, a.machine).complete
    ):
        return Verdict(
            Status.ERROR,
            "auditd is installed with rules for process starts and connections, but the kernel audit subsystem is "
            "unavailable here (a container, or a kernel without audit): it cannot run, and whether anything watches "
            "this host depends on the container host." + _container_note(facts),
            ev,
        )
    if not found:
        return Verdict(
            Status.FAIL,
            "no behavioural sensor is installed or running (none of: "
            + ", ".join(s.id for s in LINUX_SENSORS)
            + "): a reverse shell's process start and connection are seen by nothing on this host"
            + _container_note(facts),
            ev,
        )
    return Verdict(Status.FAIL, said + "." + _container_note(facts), ev)


# What harden_edr installs from the distribution (its defaults' harden_edr_installable; a test
# keeps the two equal). Any other required sensor comes from its vendor: the role would refuse.
INSTALLABLE = frozenset({"auditd"})


def _vendor_blocked(vendor: list[str]) -> Remedy | None:
    """No harden_edr in the plan while a missing required sensor is one only its vendor ships."""
    if not vendor:
        return None
    names = ", ".join(SENSORS[s].name for s in vendor)
    return Remedy("harden_edr", blocked=f"install {names} from its vendor (harden adds no repository)")


def _with_policy(facts: LinuxFacts, policy: Policy, by_id: dict[str, Found], ev: Evidence) -> Verdict:
    missing: list[str] = []
    unknown: list[str] = []
    good: list[str] = []
    vendor: list[str] = []
    for sid in policy.required_sensors:
        f = by_id.get(sid)
        failing = f is None or f.watch is None or f.watch.process is False or f.watch.network is False
        if failing and sid not in INSTALLABLE:
            vendor.append(sid)
        if f is None:
            where = "" if SENSORS[sid].linux_exes else " (it has no Linux version)"
            missing.append(f"{SENSORS[sid].name} (required) is not installed{where}")
        elif f.watch is None or (f.watch.process is False or f.watch.network is False):
            missing.append(_describe(f))
        elif not f.watch.counts:
            unknown.append(_describe(f))
        else:
            good.append(_describe(f))
    if missing:
        said = "; ".join(missing + unknown + good) + "." + _container_note(facts)
        return Verdict(Status.FAIL, said, ev, _vendor_blocked(vendor))
    if unknown:
        return Verdict(Status.ERROR, "; ".join(unknown + good), ev)
    return Verdict(Status.PASS, "every required sensor runs: " + "; ".join(good), ev)
