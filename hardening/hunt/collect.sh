# harden hunt collector piece (Linux): one snapshot of processes, their stdio and socket
# fds, and the TCP tables. Read-only; bounded: every section is capped at $HK bytes (the
# parser flags a section that hit the cap). Needs root to see other users' fds.
HK=4194304
_h_run hunt.self echo "$$"
_h_cmd hunt.clk_tck getconf CLK_TCK
_h_run hunt.btime grep '^btime ' /proc/stat
_h_file hunt.uptime /proc/uptime
_h_run hunt.passwd head -c 1048576 /etc/passwd
_h_netns() { readlink /proc/self/ns/net; }
_h_run hunt.netns _h_netns

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
    if find /proc/self/ -maxdepth 0 -printf '' >/dev/null 2>&1; then
        find /proc/[0-9]*/exe /proc/[0-9]*/ns/net /proc/[0-9]*/fd -maxdepth 1 -type l \
            \( -name exe -o -name net -o -name 0 -o -name 1 -o -name 2 -o -lname 'socket:*' \) \
            -printf '%p\t%l\000' 2>/dev/null
    else
        _hunt_links_slow
    fi | head -c "$HK"
}
_h_run hunt.links _hunt_links
_hunt_tcp() { head -c "$HK" "$1"; }
if [ -e /proc/net/tcp ]; then _h_run hunt.tcp _hunt_tcp /proc/net/tcp; else _h_file hunt.tcp /proc/net/tcp; fi
if [ -e /proc/net/tcp6 ]; then _h_run hunt.tcp6 _hunt_tcp /proc/net/tcp6; else _h_file hunt.tcp6 /proc/net/tcp6; fi
# Bytes per established TCP socket, joined to the tables by "ino:N" (hardening/hunt/timeline.py), when
# iproute2's ss is there: /proc/net/tcp has no byte counters (its tx_queue/rx_queue are only what
# waits in the queues now). ss answers for this network namespace only.
_hunt_ss() { ss -tine state established | head -c "$HK"; }
if _h_has ss; then _h_run hunt.ss _hunt_ss; else _h_cmd hunt.ss ss; fi
