# harden hunt collector piece (Linux): one snapshot of processes, their stdio and socket
# fds, the TCP/UDP tables of every network namespace, and which container each process is
# in. Read-only; bounded: every section is capped at $HK bytes (the parser flags a section
# that hit the cap), at most $HNS other network namespaces ($HNK bytes each) and $HCN
# containers are read. Needs root to see other users' fds and other namespaces.
HK=4194304
HNS=256
HNK=1048576
HCN=256
_h_file hunt.uptime /proc/uptime
_h_run hunt.self echo "$$"
_h_cmd hunt.clk_tck getconf CLK_TCK
_h_run hunt.btime grep '^btime ' /proc/stat
_h_run hunt.passwd head -c 1048576 /etc/passwd
_h_netns() { readlink /proc/self/ns/net; }
_h_run hunt.netns _h_netns
if find /proc/self/ -maxdepth 0 -printf '' >/dev/null 2>&1; then _hgnu=1; else _hgnu=; fi

# "/proc/PID/stat:<line>" per process (a comm with a newline continues with the same prefix).
_hunt_stat() { grep -s -H '' /proc/[0-9]*/stat | head -c "$HK"; }
_h_run hunt.stat _hunt_stat
_hunt_uid() { grep -s -H '^Uid:' /proc/[0-9]*/status | head -c "$HK"; }
_h_run hunt.uid _hunt_uid
# "/proc/PID/cmdline:<arg>" NUL-terminated, one record per argument.
if echo | grep -a -q '' 2>/dev/null; then _hga=-a; else _hga=-s; fi
_hunt_cmdline() { grep "$_hga" -s -z -H '' /proc/[0-9]*/cmdline | head -c "$HK"; }
_h_run hunt.cmdline _hunt_cmdline
# "/proc/PID/exe<TAB>target", "/proc/PID/ns/net<TAB>net:[N]" and "/proc/PID/fd/N<TAB>target" NUL-terminated: the exe link,
# fds 0-2 whatever they are, and every socket fd. GNU find does it in one process;
# elsewhere (busybox) one readlink per link.
_hunt_links_slow() {
    for _hl in /proc/[0-9]*/exe /proc/[0-9]*/ns/net /proc/[0-9]*/fd/[0-9]*; do
        _ht=$(readlink "$_hl" 2>/dev/null) || continue
        case $_hl in
        */exe | */net | */fd/0 | */fd/1 | */fd/2) ;;
        *) case $_ht in socket:*) ;; *) continue ;; esac ;;
        esac
        printf '%s\t%s\000' "$_hl" "$_ht"
    done
}
_hunt_links() {
    if [ -n "$_hgnu" ]; then
        find /proc/[0-9]*/exe /proc/[0-9]*/ns/net /proc/[0-9]*/fd -maxdepth 1 -type l \
            \( -name exe -o -name net -o -name 0 -o -name 1 -o -name 2 -o -lname 'socket:*' \) \
            -printf '%p\t%l\000' 2>/dev/null
    else
        _hunt_links_slow
    fi | head -c "$HK"
}
_h_run hunt.links _hunt_links
# The socket tables of the collector's own network namespace.
_hunt_tcp() { head -c "$HK" "$1"; }
for _hp in tcp tcp6 udp udp6; do
    if [ -e /proc/net/$_hp ]; then _h_run hunt.$_hp _hunt_tcp /proc/net/$_hp; else _h_file hunt.$_hp /proc/net/$_hp; fi
done

# Every other network namespace, once, through one of its processes (the first whose tables
# can be read): "/proc/PID/ns/net:net:[N]", then its tables as "/proc/PID/net/tcp:<line>".
# A line "/proc/ns-cap:N" says namespaces were left unread after N.
_hunt_nslist() {
    if [ -n "$_hgnu" ]; then
        find /proc/[0-9]*/ns/net -maxdepth 0 -printf '%l %p\n' 2>/dev/null
    else
        for _hl in /proc/[0-9]*/ns/net; do
            _ht=$(readlink "$_hl" 2>/dev/null) && printf '%s %s\n' "$_ht" "$_hl"
        done
    fi
}
_hunt_nets() {
    _hown=$(readlink /proc/self/ns/net 2>/dev/null)
    _hunt_nslist | sort | {
        _hdone=
        _hn=0
        while read -r _hns _hpath; do
            case $_hns in net:\[[0-9]*\]) ;; *) continue ;; esac
            [ "$_hns" = "$_hown" ] || [ "$_hns" = "$_hdone" ] && continue
            _hpid=${_hpath#/proc/}
            _hpid=${_hpid%%/*}
            case $_hpid in '' | *[!0-9]*) continue ;; esac
            [ -r "/proc/$_hpid/net/tcp" ] || continue
            if [ "$_hn" -ge "$HNS" ]; then
                printf '/proc/ns-cap:%s\n' "$_hn"
                break
            fi
            printf '/proc/%s/ns/net:%s\n' "$_hpid" "$_hns"
            grep -s -H '' "/proc/$_hpid/net/tcp" "/proc/$_hpid/net/tcp6" "/proc/$_hpid/net/udp" \
                "/proc/$_hpid/net/udp6" | head -c "$HNK"
            echo
            _hdone=$_hns
            _hn=$((_hn + 1))
        done
    } | head -c "$HK"
}
_h_run hunt.nets _hunt_nets

# Containers. The cgroup of every process (one line per process and hierarchy that names
# containers: the unified one, systemd's, pids, memory); the runtimes' on-disk state of the
# containers those paths name (ids: 64 hex digits; LXC: lxc.payload.NAME or lxc/NAME).
# Only files, no runtime API, no daemon.
_hunt_cgroup() {
    grep -s -H -E '^[0-9]+:(name=systemd|pids|memory)?:/' /proc/[0-9]*/cgroup | head -c "$HK" >"$HT/cg"
    cat "$HT/cg"
}
_h_run hunt.cgroup _hunt_cgroup
_hunt_ctr_ids() { tr -c '0-9a-f\n' '\n' <"$HT/cg" | grep -x -E '[0-9a-f]{64}' | sort -u | head -n "$HCN"; }
# Container stores of podman and CRI-O (containers/storage: rootful, rootless users' homes).
_hunt_stores() {
    _hsn=0
    for _hf in /var/lib/containers/storage/*-containers/containers.json \
        /var/lib/containers/storage/*-containers/volatile-containers.json \
        /run/containers/storage/*-containers/volatile-containers.json \
        /home/*/.local/share/containers/storage/*-containers/containers.json \
        /home/*/.local/share/containers/storage/*-containers/volatile-containers.json \
        /run/user/[0-9]*/containers/*-containers/volatile-containers.json; do
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
        for _hf in "/var/lib/docker/containers/$_hid/config.v2.json" \
            "/var/lib/containers/storage/overlay-containers/$_hid/userdata/config.json" \
            /run/containerd/io.containerd.runtime.v2.task/*/"$_hid"/config.json \
            /run/containerd/io.containerd.runtime.v1.linux/*/"$_hid"/config.json; do
            [ -f "$_hf" ] && set -- "$@" "$_hf"
        done
        _hf=/run/containers/storage/overlay-containers/$_hid/userdata/config.json
        [ -f "$_hf" ] && [ ! -f "/var/lib/containers/storage/overlay-containers/$_hid/userdata/config.json" ] &&
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
# LXC (and LXD/Incus, which run on liblxc): the container's configuration by name.
_hunt_lxc() {
    set --
    for _hl in $(sed -n 's,^[^:]*:[0-9]*:[^:]*:.*/lxc\.payload\.\([^/]*\).*,\1,p; s,^[^:]*:[0-9]*:[^:]*:/lxc/\([^/]*\).*,\1,p' \
        "$HT/cg" | sort -u | head -n "$HCN"); do
        case $_hl in '' | .* | *[!A-Za-z0-9_.-]*) continue ;; esac
        _hs=${_hl%-[0-9]*}
        [ "$_hs" = "$_hl" ] && _hs=
        for _hn in "$_hl" $_hs; do
            for _hf in "/var/lib/lxc/$_hn/config" "/var/snap/lxd/common/lxd/containers/$_hn/backup.yaml" \
                "/var/lib/lxd/containers/$_hn/backup.yaml" "/var/lib/incus/containers/$_hn/backup.yaml"; do
                [ -f "$_hf" ] && set -- "$@" "$_hf"
            done
        done
    done
    [ "$#" -gt 0 ] || return 0
    grep -s -H -E '^(lxc\.uts\.?name|lxc\.rootfs(\.path)?|# Template used to create|# Parameters passed to the template|[[:space:]]+image\.(description|os|release):)' \
        "$@" | head -c "$HK"
}
_h_run hunt.ctr.lxc _hunt_lxc
# Whether the collector itself runs in a container: podman's /run/.containerenv (names
# filled only for --privileged), docker's /.dockerenv, the bind mounts of /etc/hostname.
_hunt_ctrself() {
    if [ -f /run/.containerenv ]; then
        printf 'containerenv\n'
        head -c 4096 /run/.containerenv
        printf '\n'
    fi
    [ -e /.dockerenv ] && printf 'dockerenv\n'
    grep -s -E ' /etc/(hostname|hosts|resolv\.conf) ' /proc/self/mountinfo | head -c 8192
    return 0
}
_h_run hunt.ctr.self _hunt_ctrself
_h_file hunt.uptime_end /proc/uptime
