# harden hunt collector piece (Linux), after collect.sh: which container each process is in.
# The cgroup of every process (one line per process and hierarchy that names
# containers: the unified one, systemd's, pids, memory); the runtimes' on-disk state of the
# containers those paths name (ids: 64 hex digits; LXC: lxc.payload.NAME or lxc/NAME).
# Only files, no runtime API, no daemon; at most $HCN containers. $HR is a root prefix for
# the tests (fixture trees of the runtimes' documented layouts); empty on every host.
HR=
HCN=256
_hunt_cgroup() {
    grep -s -H -E '^[0-9]+:(name=systemd|pids|memory)?:/' "$HR"/proc/[0-9]*/cgroup | head -c "$HK" >"$HT/cg"
    cat "$HT/cg"
}
_h_run hunt.cgroup _hunt_cgroup
_hunt_ctr_ids() { tr -c '0-9a-f\n' '\n' <"$HT/cg" | grep -x -E '[0-9a-f]{64}' | sort -u | head -n "$HCN"; }
# Container stores of podman and CRI-O (containers/storage: rootful, rootless users' homes).
_hunt_stores() {
    _hsn=0
    for _hf in "$HR"/var/lib/containers/storage/*-containers/containers.json \
        "$HR"/var/lib/containers/storage/*-containers/volatile-containers.json \
        "$HR"/run/containers/storage/*-containers/volatile-containers.json \
        "$HR"/home/*/.local/share/containers/storage/*-containers/containers.json \
        "$HR"/home/*/.local/share/containers/storage/*-containers/volatile-containers.json \
        "$HR"/run/user/[0-9]*/containers/*-containers/volatile-containers.json; do
        [ -f "$_hf" ] && [ ! -L "$_hf" ] || continue
        _hsn=$((_hsn + 1))
        [ "$_hsn" -le 64 ] || break
        printf '==> %s <==\n' "$_hf"
        head -c 1048576 "$_hf"
        printf '\n'
    done | head -c "$HK"
}
_h_run hunt.ctr.stores _hunt_stores
# The container's own configuration: only the keys that name it (never its environment).
_HCK='"(Name|Image|io\.container\.manager|nerdctl/name|io\.kubernetes\.(pod\.(name|namespace|uid)|container\.name'
_HCK="$_HCK"'|cri\.(container-name|container-type|sandbox-name|sandbox-namespace|sandbox-uid|image-name)'
_HCK="$_HCK"'|cri-o\.(ContainerType|ContainerName|ImageName|KubeName|Namespace)))"[[:space:]]*:[[:space:]]*"[^"]*"'
_hunt_state() {
    set --
    for _hid in $(_hunt_ctr_ids); do
        for _hf in "$HR/var/lib/docker/containers/$_hid/config.v2.json" \
            "$HR/var/lib/containers/storage/overlay-containers/$_hid/userdata/config.json" \
            "$HR"/run/containerd/io.containerd.runtime.v2.task/*/"$_hid"/config.json \
            "$HR"/run/containerd/io.containerd.runtime.v1.linux/*/"$_hid"/config.json; do
            [ -f "$_hf" ] && set -- "$@" "$_hf"
        done
        _hf=$HR/run/containers/storage/overlay-containers/$_hid/userdata/config.json
        [ -f "$_hf" ] && [ ! -f "$HR/var/lib/containers/storage/overlay-containers/$_hid/userdata/config.json" ] &&
            set -- "$@" "$_hf"
    done
    [ "$#" -gt 0 ] || return 0
    grep -s -H -o -E "$_HCK" "$@" | head -c "$HK"
}
if printf 'ab\n' | grep -o b >/dev/null 2>&1; then
    _h_run hunt.ctr.state _hunt_state
else
    printf '\n@@%s B hunt.ctr.state\n\n@@%s E hunt.ctr.state 127\n' "$HN" "$HN"
fi
# LXC: the container's configuration by name (LXD and Incus run theirs as lxc.payload.NAME
# too; their configuration lives in their database, so only the name is known).
_hunt_lxc() {
    set --
    for _hl in $(sed -n 's,^[^:]*:[0-9]*:[^:]*:.*/lxc\.payload\.\([^/]*\).*,\1,p; s,^[^:]*:[0-9]*:[^:]*:/lxc/\([^/]*\).*,\1,p' \
        "$HT/cg" | sort -u | head -n "$HCN"); do
        case $_hl in '' | .* | *[!A-Za-z0-9_.-]*) continue ;; esac
        _hs=${_hl%-[0-9]*}
        [ "$_hs" = "$_hl" ] && _hs=
        for _hn in "$_hl" $_hs; do
            [ -f "$HR/var/lib/lxc/$_hn/config" ] && set -- "$@" "$HR/var/lib/lxc/$_hn/config"
        done
    done
    [ "$#" -gt 0 ] || return 0
    grep -s -H -E '^(lxc\.uts\.?name|# Template used to create|# Parameters passed to the template)' "$@" |
        head -c "$HK"
}
_h_run hunt.ctr.lxc _hunt_lxc
# Whether the collector itself runs in a container: podman's /run/.containerenv (names
# filled only for --privileged), docker's /.dockerenv, the bind mounts of /etc/hostname.
_hunt_ctrself() {
    if [ -f "$HR/run/.containerenv" ]; then
        printf 'containerenv\n'
        head -c 4096 "$HR/run/.containerenv"
        printf '\n'
    fi
    [ -e "$HR/.dockerenv" ] && printf 'dockerenv\n'
    grep -s -E ' /etc/(hostname|hosts|resolv\.conf) ' "$HR/proc/self/mountinfo" | head -c 8192
    return 0
}
_h_run hunt.ctr.self _hunt_ctrself
# Last: when the collector ended (hunt.uptime holds when it started).
_h_file hunt.uptime_end /proc/uptime
