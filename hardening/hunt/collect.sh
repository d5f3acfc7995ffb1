# harden hunt collector piece (Linux): one snapshot of processes, their stdio and socket
# fds, and the TCP/UDP tables of every network namespace (containers.sh follows: which
# container each process is in). Read-only; bounded: every section is capped at $HK bytes
# (the parser flags a section that hit the cap), at most $HNS other network namespaces
# ($HNK bytes each) are read. Needs root to see other users' fds and other namespaces.
HK=4194304
HNS=256
HNK=1048576
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
# Bytes per established TCP socket, joined to the tables by "ino:N" (hardening/hunt/timeline.py), when
# iproute2's ss is there: /proc/net/tcp has no byte counters (its tx_queue/rx_queue are only what
# waits in the queues now). ss answers for this network namespace only.
_hunt_ss() { ss -tine state established | head -c "$HK"; }
if _h_has ss; then _h_run hunt.ss _hunt_ss; else _h_cmd hunt.ss ss; fi
