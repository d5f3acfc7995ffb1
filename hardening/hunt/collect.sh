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

# The local port range of the collector's namespace: which side of a connection is ephemeral.
# Constant during a watch: read in the first sample only (HS, see hardening/hunt/watch.py).
[ "${HS:-0}" = 0 ] && _h_file hunt.portrange /proc/sys/net/ipv4/ip_local_port_range

# Inter-process channels: "/proc/PID/fd/N<TAB>target" NUL-terminated for every fd (0-2 too) that
# is an anonymous pipe, a named fifo (its path), a pty slave (/dev/pts/N) or the pty master
# (/dev/ptmx, /dev/pts/ptmx). The parser joins them between processes (fifo+nc, sh | openssl,
# socat pty). Bounded by the section cap; the parser keeps at most 64 per process.
_hunt_ipc_slow() {
    for _hl in /proc/[0-9]*/fd/[0-9]*; do
        _ht=$(readlink "$_hl" 2>/dev/null) || continue
        case $_ht in
        pipe:* | /dev/pts/* | /dev/ptmx) ;;
        *) [ -p "$_hl" ] || continue ;;
        esac
        printf '%s\t%s\000' "$_hl" "$_ht"
    done
}
_hunt_ipc() {
    if [ -n "$_hgnu" ]; then
        find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l \
            \( -lname 'pipe:*' -o -lname '/dev/pts/*' -o -lname /dev/ptmx -o -xtype p \) \
            -printf '%p\t%l\000' 2>/dev/null
    else
        _hunt_ipc_slow
    fi | head -c "$HK"
}
_h_run hunt.ipc _hunt_ipc
# The pty index behind each master fd ("tty-index:" of /proc/PID/fdinfo/N, Linux >= 4.20):
# it pairs the relay holding /dev/ptmx with the shell on /dev/pts/N. At most 512 masters.
_hunt_ptmx() {
    _hunt_ipc | tr '\000' '\n' | grep -E '^/proc/[0-9]+/fd/[0-9]+	/dev/(pts/)?ptmx$' | head -n 512 |
        while IFS= read -r _hp; do
            _hp=${_hp%%	*}
            grep -s -H '^tty-index:' "${_hp%/fd/*}/fdinfo/${_hp##*/}"
        done
}
_h_run hunt.ptmx _hunt_ptmx

# Executable identity, for the candidates only: the exes of processes that hold a socket or
# read a pipe/fifo on stdin (at most 128 distinct exes; md5 up to 64 MiB, build strings up to 16 MiB). Per exe:
# "id<TAB>PID<TAB>md5<TAB>" and "sig<TAB>PID<TAB>string" for each known build string found
# (netcat-likes, interpreters, shells), "size<TAB>PID<TAB>bytes"; then "pkg<TAB>file:md5  path" where a package's md5sums
# list (dpkg) holds that md5, or, on hosts without dpkg, "known<TAB>md5  path" for well-known tool
# paths of this host.
# A renamed ncat copied to /tmp/kworker is still ncat by its content.
_HSIG='nmap\.org/ncat|\[v1\.10-[0-9]+\]|OpenBSD netcat|socat by Gerhard Rieger|BusyBox v[0-9.]+|Py_BytesMain|\[switches\] \[--\] \[programfile\]|ruby_run_node|GNU Awk|GNU bash, version|Zend Engine v[0-9]|Standard commands|pwncat'
_hunt_exe_candidates() {
    if [ -n "$_hgnu" ]; then
        find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l \
            \( -lname 'socket:*' -o \( -name 0 \( -lname 'pipe:*' -o -xtype p \) \) \) -printf '%h\n' 2>/dev/null
    else
        for _hl in /proc/[0-9]*/fd/[0-9]*; do
            _ht=$(readlink "$_hl" 2>/dev/null) || continue
            case $_hl:$_ht in
            *:socket:* | */fd/0:pipe:*) printf '%s\n' "${_hl%/*}" ;;
            */fd/0:*) [ -p "$_hl" ] && printf '%s\n' "${_hl%/*}" ;;
            esac
        done
    fi | uniq | head -n 65536 | while IFS= read -r _hd; do
        _hp=${_hd%/fd}
        _he=$(readlink "$_hp/exe" 2>/dev/null) || continue
        case $_he in *"$_h_nl"* | *"	"*) continue ;; esac
        printf '%s\t%s\n' "${_hp#/proc/}" "$_he"
    done | sort -t '	' -k2,2 -u | head -n 128
}
_pid_of() { _hp=${1#/proc/}; _hp=${_hp%/exe}; }
_hunt_exeid() {
    _hunt_exe_candidates >"$HT/hcand" || return 1
    _hx=
    while IFS='	' read -r _hp _he; do _hx="$_hx /proc/$_hp/exe"; done <"$HT/hcand"
    [ -n "$_hx" ] || return 0
    # One wc, one md5sum and one grep for all candidates (the words are /proc/DIGITS/exe only).
    # shellcheck disable=SC2086
    wc -c $_hx >"$HT/hsize" 2>/dev/null
    _hok=
    _hsm=
    while read -r _hs _hf; do
        case $_hf in /proc/*/exe) ;; *) continue ;; esac
        _pid_of "$_hf"
        printf 'size\t%s\t%s\n' "$_hp" "$_hs"
        [ "$_hs" -le 67108864 ] 2>/dev/null && _hok="$_hok $_hf"
        [ "$_hs" -le 16777216 ] 2>/dev/null && _hsm="$_hsm $_hf"
    done <"$HT/hsize"
    [ -n "$_hok" ] || return 0
    : >"$HT/hmd5"
    # shellcheck disable=SC2086
    md5sum $_hok 2>/dev/null | while read -r _hm _hf; do
        _pid_of "$_hf"
        printf 'id\t%s\t%s\t\n' "$_hp" "$_hm"
        printf '%s\n' "$_hm" >>"$HT/hmd5"
    done
    # shellcheck disable=SC2086
    [ -z "$_hsm" ] || grep -a -o -H -E "$_HSIG" $_hsm 2>/dev/null | sort -u | head -n 2048 | while IFS= read -r _hg; do
        _pid_of "${_hg%%:*}"
        printf 'sig\t%s\t%s\n' "$_hp" "${_hg#*:}"
    done
    if [ -s "$HT/hmd5" ] && [ -d /var/lib/dpkg/info ]; then
        find /var/lib/dpkg/info -maxdepth 1 -name '*.md5sums' -type f -exec grep -H -F -f "$HT/hmd5" {} + 2>/dev/null |
            head -n 512 | while IFS= read -r _hk; do printf 'pkg\t%s\n' "$_hk"; done
    fi
    # Without a dpkg database (RPM, Alpine, ...): the md5 of the host's own well-known tools.
    [ -d /var/lib/dpkg/info ] && { rm -f "$HT/hcand" "$HT/hmd5" "$HT/hsize"; return 0; }
    _hx=
    for _hk in /usr/bin/nc /usr/bin/nc.* /usr/bin/netcat /usr/bin/ncat /usr/bin/socat /usr/bin/busybox /bin/busybox \
        /usr/bin/openssl /usr/bin/python3 /usr/bin/perl /usr/bin/php /usr/bin/ruby /usr/bin/gawk /usr/bin/bash /bin/bash; do
        [ -f "$_hk" ] && _hx="$_hx $_hk"
    done
    # shellcheck disable=SC2086
    [ -z "$_hx" ] || md5sum $_hx 2>/dev/null | while IFS= read -r _hk; do printf 'known\t%s\n' "$_hk"; done
    rm -f "$HT/hcand" "$HT/hmd5" "$HT/hsize"
}
# Costly (it reads the candidate binaries): in a watch, the first sample only; later samples reuse it,
# and its identities hold for the same exe path in the same namespace (a binary first run later is
# judged by its names).
if [ "${HS:-0}" = 0 ]; then _h_run hunt.exeid _hunt_exeid; fi
