"""Which container each process runs in: its cgroup path and the runtimes' on-disk state (pure).

The hunt collector sends, in the same round trip (``hunt/collect.sh``):

- ``hunt.cgroup``: ``/proc/PID/cgroup:N:controllers:/path`` lines (unified, name=systemd,
  pids and memory hierarchies);
- ``hunt.ctr.stores``: podman's and CRI-O's container lists (containers/storage
  ``containers.json`` and ``volatile-containers.json``, rootful and rootless) as
  ``==> path <==`` blocks;
- ``hunt.ctr.state``: ``path:"key": "value"`` pairs that name a container, taken from docker's
  ``config.v2.json`` and from the OCI ``config.json`` of containers/storage and containerd
  bundles (only the keys of :data:`STATE_KEYS`: never a container's environment);
- ``hunt.ctr.lxc``: ``path:line`` from LXC's ``config`` (template, parameters, host name);
- ``hunt.ctr.self``: whether the collector itself runs in a container.

The cgroup path says which runtime made a container and its id (``docker-<id>.scope``,
``libpod-<id>.scope``, ``crio-<id>.scope``, ``cri-containerd-<id>.scope``, ``/docker/<id>``,
``kubepods...pod<uid>...``, ``lxc.payload.<name>``); the runtime's files give the name, the
image and the Kubernetes pod. A rootless user's store names only containers under that user's
own cgroup subtree (``user-UID.slice``), so a user cannot rename another's container. Everything
here is cosmetic enrichment: it never changes a tier.

Example::

    >>> cgroup_ref("/system.slice/docker-" + "ab" * 32 + ".scope").runtime
    'docker'
    >>> cgroup_ref("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8a9b_"
    ...            "0c1d2e3f4a5b.slice/cri-containerd-" + "cd" * 32 + ".scope").pod_uid
    '0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hardening import hostjson
from hardening.hunt.model import Container
from hardening.lines import iter_lines

_ID = r"[0-9a-f]{64}"
# Path segments that name a container, innermost wins (podman in docker: the podman one).
_SEGMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"docker-({_ID})\.scope"), "docker"),
    (re.compile(rf"libpod-({_ID})(?:\.scope)?"), "podman"),
    (re.compile(rf"crio-({_ID})(?:\.scope)?"), "cri-o"),
    (re.compile(rf"cri-containerd-({_ID})\.scope"), "containerd"),
    (re.compile(rf"({_ID})(?:\.scope)?"), ""),  # cgroupfs: /docker/<id>, /kubepods/.../pod<uid>/<id>, /<ns>/<id>
)
# kubepods-burstable-pod<uid>.slice (systemd, "-" escaped as "_"), pod<uid> (cgroupfs); a static pod's uid
# is 32 hex digits (a hash of its manifest).
_POD = re.compile(
    r"(?:.*-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32})(?:\.slice)?"
)
_USER = re.compile(r"user-(\d{1,10})\.slice")
_LXC_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_CG_LINE = re.compile(r"^/proc/(\d{1,10})/cgroup:(\d{1,4}):([^:\n]*):(/[^\n]*)$", re.MULTILINE)
# Which hierarchy's path is used first: the unified one, then systemd's, pids, memory.
_PREFERENCE = {"": 0, "name=systemd": 1, "pids": 2, "memory": 3}

#: The keys ``hunt.ctr.state`` may carry (the collector's grep pattern is the same list).
STATE_KEYS = frozenset(
    {
        "Name", "Image", "io.container.manager", "nerdctl/name",
        "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
        "io.kubernetes.container.name",
        "io.kubernetes.cri.container-name", "io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-name",
        "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.image-name",
        "io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.ContainerName", "io.kubernetes.cri-o.ImageName",
        "io.kubernetes.cri-o.KubeName", "io.kubernetes.cri-o.Namespace",
    }
)  # fmt: skip
# Where each Kubernetes field comes from: dockershim labels and CRI-O annotations (io.kubernetes.pod.*),
# containerd's CRI annotations (io.kubernetes.cri.*), CRI-O's own (io.kubernetes.cri-o.*).
_POD_KEYS = ("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri-o.KubeName")
_NAMESPACE_KEYS = (
    "io.kubernetes.pod.namespace",
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri-o.Namespace",
)
_K8S_CONTAINER_KEYS = ("io.kubernetes.container.name", "io.kubernetes.cri.container-name")
_POD_UID_KEYS = ("io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid")
_STATE_LINE = re.compile(r'^(/[^:\n]{1,300}):"([^"\n]{1,80})"\s*:\s*("[^"\n]*")$', re.MULTILINE)
_STATE_PATHS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"/var/lib/docker/containers/({_ID})/config\.v2\.json"), "docker"),
    (re.compile(rf"/(?:var/lib|run)/containers/storage/overlay-containers/({_ID})/userdata/config\.json"), "oci"),
    (
        re.compile(rf"/run/containerd/io\.containerd\.runtime\.v[12]\.(?:task|linux)/([A-Za-z0-9._-]{{1,80}})/({_ID})"
                   r"/config\.json"),
        "containerd",
    ),
)  # fmt: skip
_STORE_HEAD = re.compile(r"^==> (/[^\n]{1,500}) <==$", re.MULTILINE)
_ROOTLESS_HOME = re.compile(r"^(/home/[^/\n]+)/\.local/share/containers/storage/")
_ROOTLESS_RUN = re.compile(r"^/run/user/(\d{1,10})/containers/")
_MOUNT_ID = (
    (re.compile(rf"/overlay-containers/({_ID})/userdata/"), "podman"),
    (re.compile(rf"/docker/containers/({_ID})/"), "docker"),
)
_LXC_LINE = re.compile(r"^(/[^:\n]{1,300}):([^\n]*)$", re.MULTILINE)
_LXC_PATH = re.compile(r"/var/lib/lxc/([A-Za-z0-9_.-]{1,128})/config")
MAX_FIELD = 256  # characters kept of a name, image, pod...


@dataclass(frozen=True)
class CgroupRef:
    """What one cgroup path says about a container (``runtime`` "" when the path does not tell)."""

    runtime: str = ""
    id: str = ""
    lxc: str = ""
    pod_uid: str = ""
    uid: int | None = None  # the user slice it lives in (rootless containers)

    @property
    def key(self) -> tuple[str, int | None]:
        """What one description holds for: the container and the user slice it was found in."""
        return (self.id or f"lxc:{self.lxc}", self.uid)


def cgroup_ref(path: str) -> CgroupRef | None:
    """The container a cgroup path names, or None (a host process).

    >>> cgroup_ref("/libpod_parent/libpod-" + "0" * 64).runtime, cgroup_ref("/system.slice/sshd.service")
    ('podman', None)
    >>> cgroup_ref("/lxc.payload.web/init.scope").lxc, cgroup_ref("/libpod_parent/conmon")
    ('web', None)
    """
    segments = [s for s in path.split("/") if s]
    runtime = cid = lxc = pod_uid = ""
    uid: int | None = None
    for i, seg in enumerate(segments):
        if (m := _USER.fullmatch(seg)) is not None:
            uid = int(m.group(1))
        if (m := _POD.fullmatch(seg)) is not None:
            pod_uid = m.group(1).replace("_", "-")
        if seg.startswith("lxc.payload.") and _LXC_NAME.fullmatch(seg[12:]):
            runtime, cid, lxc = "lxc", "", seg[12:]
            continue
        if i == 0 and seg == "lxc" and len(segments) > 1 and _LXC_NAME.fullmatch(segments[1]):
            runtime, cid, lxc = "lxc", "", segments[1]
            continue
        for pattern, rt in _SEGMENTS:
            if (m := pattern.fullmatch(seg)) is not None:
                cid, lxc = m.group(1), ""
                runtime = rt or ("docker" if i and segments[i - 1] == "docker" else "")
                break
    if not cid and not lxc:
        return None
    return CgroupRef(runtime, cid, lxc, pod_uid, uid)


def parse_cgroups(text: str) -> dict[int, tuple[str, ...]]:
    """pid -> its cgroup paths, the preferred hierarchy first (see :data:`_PREFERENCE`)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for m in _CG_LINE.finditer(text):
        rank = _PREFERENCE.get(m.group(3), 9) if m.group(2) != "0" else 0
        found.setdefault(int(m.group(1)), []).append((rank, m.group(4)))
    return {pid: tuple(p for _, p in sorted(paths, key=lambda rp: rp[0])) for pid, paths in found.items()}


def ref_of(paths: Iterable[str]) -> CgroupRef | None:
    """The first path (in preference order) that names a container."""
    for path in paths:
        if (ref := cgroup_ref(path)) is not None:
            return ref
    return None


@dataclass(frozen=True)
class StoreEntry:
    """One container of a containers/storage list (podman, CRI-O)."""

    id: str
    names: tuple[str, ...]
    image_name: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Store:
    """One ``containers.json``: ``owner`` None for the rootful store, else the rootless user's uid."""

    path: str
    owner: int | None
    entries: Mapping[str, StoreEntry]


def _short(value: object) -> str:
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _json_items(text: str) -> Iterable[object]:
    """The elements of a JSON array, one by one, as far as the text parses (a capped file stops early)."""
    decoder = json.JSONDecoder()
    pos = text.find("[")
    if pos < 0:
        return
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):  # cut, garbled, or nested to exhaust the stack (a hostile host)
            return
        yield hostjson.clean(item)


def _store_entry(item: object) -> StoreEntry | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not re.fullmatch(_ID, item["id"]):
        return None
    names = item.get("names")
    meta: dict[str, str] = {}
    raw = item.get("metadata")
    if isinstance(raw, str):
        try:
            parsed = hostjson.loads(raw)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            meta = {k: _short(v) for k, v in parsed.items() if isinstance(k, str) and isinstance(v, str)}
    return StoreEntry(
        id=item["id"],
        names=tuple(_short(n) for n in names if isinstance(n, str)) if isinstance(names, list) else (),
        image_name=meta.get("image-name", ""),
        metadata=meta,
    )


def parse_stores(text: str, homes: Mapping[str, int]) -> tuple[Store, ...]:
    """The container lists of ``hunt.ctr.stores``; ``homes`` maps a home directory to its uid (passwd).

    A rootless store whose owner cannot be told (a home not in passwd) is dropped.
    """
    heads = list(_STORE_HEAD.finditer(text))
    stores = []
    for i, m in enumerate(heads):
        path = m.group(1)
        body = text[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        owner: int | None = None
        if (h := _ROOTLESS_HOME.match(path)) is not None:
            if h.group(1) not in homes:
                continue
            owner = homes[h.group(1)]
        elif (r := _ROOTLESS_RUN.match(path)) is not None:
            owner = int(r.group(1))
        elif not path.startswith(("/var/lib/containers/storage/", "/run/containers/storage/")):
            continue
        entries = {e.id: e for item in _json_items(body) if (e := _store_entry(item)) is not None}
        stores.append(Store(path, owner, entries))
    return tuple(stores)


@dataclass(frozen=True)
class State:
    """What the runtime's own configuration of one container says: where it came from and its keys."""

    source: str  # docker | oci (containers/storage: podman or CRI-O) | containerd
    namespace: str = ""  # containerd namespace (k8s.io, moby, default...)
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, *keys: str) -> str:
        for key in keys:
            for value in self.values.get(key, ()):
                if value:
                    return value
        return ""


def parse_state(text: str) -> dict[str, tuple[State, ...]]:
    """id -> the states ``hunt.ctr.state`` holds for it (a JSON value that does not decode is skipped)."""
    acc: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for m in _STATE_LINE.finditer(text):
        path, key, raw = m.groups()
        if key not in STATE_KEYS:
            continue
        for pattern, source in _STATE_PATHS:
            if (pm := pattern.fullmatch(path)) is None:
                continue
            ns, cid = (pm.group(1), pm.group(2)) if source == "containerd" else ("", pm.group(1))
            try:
                value = hostjson.loads(raw)
            except ValueError:
                break
            if isinstance(value, str):
                acc.setdefault((cid, source, ns), {}).setdefault(key, []).append(value[:MAX_FIELD])
            break
    out: dict[str, list[State]] = {}
    for (cid, source, ns), values in acc.items():
        out.setdefault(cid, []).append(State(source, ns, {k: tuple(v) for k, v in values.items()}))
    return {cid: tuple(states) for cid, states in out.items()}


@dataclass(frozen=True)
class LxcConfig:
    name: str
    image: str = ""
    hostname: str = ""


def parse_lxc(text: str) -> dict[str, LxcConfig]:
    """name -> what LXC's ``config`` says: the template and its parameters (lxc-create writes them
    as comments, e.g. ``download -d debian -r bookworm -a amd64``) and the host name."""
    lines: dict[str, list[str]] = {}
    for m in _LXC_LINE.finditer(text):
        if (pm := _LXC_PATH.fullmatch(m.group(1))) is not None:
            lines.setdefault(pm.group(1), []).append(m.group(2))
    out = {}
    for name, body in lines.items():
        template = params = hostname = ""
        for line in body:
            key, sep, value = line.partition("=")
            if line.startswith("# Template used to create this container:"):
                template = line.split(":", 1)[1].strip().rsplit("/", 1)[-1].removeprefix("lxc-")
            elif line.startswith("# Parameters passed to the template:"):
                params = line.split(":", 1)[1].strip()
            elif sep and key.strip() in ("lxc.uts.name", "lxc.utsname"):
                hostname = value.strip()
        image = " ".join(x for x in (template, params) if x)
        out[name] = LxcConfig(name, image[:MAX_FIELD], hostname[:MAX_FIELD])
    return out


def parse_self(text: str, own_ref: CgroupRef | None) -> Container | None:
    """The collector's own container: from its cgroup, else from the bind mounts of /etc/hostname
    (``.../overlay-containers/<id>/userdata/hostname``, ``.../docker/containers/<id>/hostname``);
    podman's ``/run/.containerenv`` adds name and image (filled for ``--privileged`` containers only).
    ``/.dockerenv`` alone proves nothing (images converted to VMs keep it): without an id, None."""
    env: dict[str, str] = {}
    in_env = False
    mount_id = mount_rt = ""
    for line in iter_lines(text):
        if line == "containerenv":
            in_env = True
            continue
        if line == "dockerenv":
            in_env = False
            continue
        if in_env and (m := re.fullmatch(r'([a-zA-Z]{1,32})="([^"]{0,256})"', line)) is not None:
            env[m.group(1)] = m.group(2)
            continue
        for pattern, rt in _MOUNT_ID:
            if not mount_id and (m := pattern.search(line)) is not None:
                mount_id, mount_rt = m.group(1), rt
    env_id = env.get("id", "") if re.fullmatch(_ID, env.get("id", "")) else ""
    if own_ref is not None and own_ref.id:
        cid, runtime = own_ref.id, own_ref.runtime
    else:
        cid, runtime = mount_id or env_id, mount_rt or ("podman" if env else "")
    if not cid:
        return None
    same = env_id in ("", cid)
    return Container(
        runtime=runtime or "unknown",
        id=cid,
        name=_short(env.get("name", "")) if same else "",
        image=_short(env.get("image", "")) if same else "",
    )


@dataclass(frozen=True)
class RuntimeState:
    """All the on-disk state one hunt read."""

    stores: tuple[Store, ...] = ()
    states: Mapping[str, tuple[State, ...]] = field(default_factory=dict)
    lxc: Mapping[str, LxcConfig] = field(default_factory=dict)


def _store_lookup(state: RuntimeState, ref: CgroupRef) -> StoreEntry | None:
    """The containers/storage entry of ``ref``: a rootful store for a container outside every user
    slice, the owner's rootless store for a container in a user's slice (``user-UID.slice``)."""
    for store in state.stores:
        if store.owner == ref.uid and ref.id in store.entries:
            return store.entries[ref.id]
    return None


def describe(ref: CgroupRef, state: RuntimeState) -> Container:
    """The container ``ref`` names, enriched with what the runtimes' files say about it."""
    if ref.lxc:
        name = ref.lxc
        cfg = state.lxc.get(name)
        if cfg is None and (m := re.fullmatch(r"(.+)-\d+", name)) is not None:  # LXC's -NNNN retry suffix
            cfg = state.lxc.get(m.group(1))
            name = m.group(1) if cfg is not None else name
        return Container("lxc", name=name, image=cfg.image if cfg else "")
    runtime = ref.runtime
    name = image = pod = namespace = k8s_container = ""
    pod_uid = ref.pod_uid
    # Rootful runtimes' files name only containers outside the users' slices: a user may create a
    # cgroup called docker-<id>.scope in the subtree delegated to them, not borrow that container's name.
    rootful = state.states.get(ref.id, ()) if ref.uid is None else ()
    for st in rootful:
        if st.source == "docker":
            runtime = "docker"
            named = [v for v in st.values.get("Name", ()) if v.startswith("/")]  # volumes have names too
            name = named[0][1:] if named else name
            refs = [v for v in st.values.get("Image", ()) if v]
            image = next((v for v in refs if not v.startswith("sha256:")), refs[0] if refs else "")
        elif st.source == "oci":
            manager = st.get("io.container.manager")
            runtime = {"cri-o": "cri-o", "libpod": "podman"}.get(manager, runtime or "podman")
            name = st.get("io.kubernetes.cri-o.ContainerName") or name
            image = st.get("io.kubernetes.cri-o.ImageName") or image
        elif st.source == "containerd":
            runtime = "docker" if st.namespace == "moby" else "containerd"
            name = st.get("nerdctl/name") or name
            image = st.get("io.kubernetes.cri.image-name") or image
        pod = st.get(*_POD_KEYS) or pod
        namespace = st.get(*_NAMESPACE_KEYS) or namespace
        k8s_container = st.get(*_K8S_CONTAINER_KEYS) or k8s_container
        pod_uid = st.get(*_POD_UID_KEYS) or pod_uid
    # containers/storage lists only podman's and CRI-O's containers
    entry = _store_lookup(state, ref) if runtime in ("", "podman", "cri-o") else None
    if entry is not None:
        if runtime in ("", "podman"):
            runtime = "podman" if not entry.metadata.get("pod-name") else "cri-o"
        name = name or (entry.names[0] if entry.names else "")
        image = image or entry.image_name
        k8s_container = k8s_container or (entry.metadata.get("metadata-name", "") if runtime == "cri-o" else "")
    if not runtime and (pod_uid or k8s_container):
        runtime = "unknown"
    if not name and k8s_container and runtime == "containerd":
        name = k8s_container
    return Container(
        runtime=runtime or "unknown",
        id=ref.id,
        name=name,
        image=image,
        pod=pod,
        namespace=namespace,
        k8s_container=k8s_container,
        pod_uid=pod_uid,
    )


def resolve(
    cgroups: Mapping[int, tuple[str, ...]],
    state: RuntimeState,
    self_pid: int | None = None,
    self_text: str = "",
) -> dict[int, Container]:
    """pid -> its container, for every process whose cgroup names one. When the collector itself runs
    in a container known by id, processes inside its cgroup namespace whose path names no other
    container are in that one (a private cgroup namespace shows them at ``/``)."""
    refs = {pid: ref_of(paths) for pid, paths in cgroups.items()}
    own_ref = refs.get(self_pid) if self_pid is not None else None
    own = parse_self(self_text, own_ref) if self_text or own_ref else None
    described: dict[tuple[str, int | None], Container] = {}
    out: dict[int, Container] = {}
    for pid, ref in refs.items():
        if ref is not None:
            if ref.key not in described:
                c = describe(ref, state)
                if own is not None and c.id == own.id:
                    c = Container(
                        c.runtime if c.runtime != "unknown" else own.runtime,
                        c.id,
                        c.name or own.name,
                        c.image or own.image,
                        c.pod,
                        c.namespace,
                        c.k8s_container,
                        c.pod_uid,
                    )
                described[ref.key] = c
            out[pid] = described[ref.key]
        elif own is not None and own_ref is None and not any(p.startswith("/..") for p in cgroups[pid]):
            out[pid] = own
    return out


def homes_of(passwd: str) -> dict[str, int]:
    """Home directory -> uid, from /etc/passwd text (first entry wins)."""
    out: dict[str, int] = {}
    for line in iter_lines(passwd):
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit() and parts[5].startswith("/"):
            out.setdefault(parts[5].rstrip("/") or "/", int(parts[2]))
    return out
