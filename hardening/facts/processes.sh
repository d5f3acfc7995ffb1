# harden collector: processes piece. Parsed by hardening/facts/processes.py.
# The process table (who runs what, under which uid and MAC label) and the sockets it listens
# on: read by edr.sensor (is a sensor running?) and services.least_privilege (what does an
# exposed service run as?). Read-only; every section is capped at $HPK bytes (the parser says so
# when one hit the cap). Other users' exe links and fds need root. Host CPU: every program
# started costs ~1 ms, so none runs that cannot change the output (reading /proc/net/tcp and
# tcp6 is the kernel's own cost, ~3 ms each in a lab container).
HPK=4194304
_h_run processes.self echo "$$"
# The stat and status sections need no head (one program fewer each) when they cannot reach the
# cap: at most 1023 processes, each printing at most 4096 bytes (a stat line is ~1.2 KiB at most:
# 50 numbers of <= 20 digits and a comm of <= 64 bytes, each newline in it repeating the
# "/proc/PID/stat:" prefix; the Uid and Gid lines ~140 bytes). Exit 0 then, as head's.
# "/proc/PID/stat:<line>" per process (a comm with a newline continues with the same prefix).
_hp_stat() {
    set -- /proc/[0-9]*/stat
    if [ "$#" -le 1023 ]; then
        grep -s -H '' "$@"
        return 0
    fi
    grep -s -H '' "$@" | head -c "$HPK"
}
_h_run processes.stat _hp_stat
# Real, effective, saved and filesystem uid and gid.
_hp_status() {
    set -- /proc/[0-9]*/status
    if [ "$#" -le 1023 ]; then
        grep -s -H -e '^Uid:' -e '^Gid:' "$@"
        return 0
    fi
    grep -s -H -e '^Uid:' -e '^Gid:' "$@" | head -c "$HPK"
}
_h_run processes.status _hp_status
# "/proc/PID/cmdline:<arg>" NUL-terminated, one record per argument. grep -a (bytes are text)
# where grep has it, else -s in its place. The probe grep for that (an exec and two forks) runs
# only when the cmdline grep, which tries -a, exited 2 with a message, as a grep without -a does
# (stopped at its options, nothing printed): then, if the probe says so, the grep runs again
# with -s. Its stderr is kept aside for that and shown as it was otherwise (-s: nearly always
# empty, and no cat then).
_hpa=-a
_hp_cmdline() {
    { grep -a -s -z -H '' /proc/[0-9]*/cmdline 2>"$HT/pge$_hpiece"; echo "$?" >"$HT/pgr$_hpiece"; } | head -c "$HPK"
    _hprc=$?
    _hpr=
    { read -r _hpr; } 2>/dev/null <"$HT/pgr$_hpiece"
    if [ -s "$HT/pge$_hpiece" ]; then
        if [ "$_hpr" = 2 ] && ! echo | grep -a -q '' 2>/dev/null; then
            _hpa=-s
            grep -s -s -z -H '' /proc/[0-9]*/cmdline | head -c "$HPK"
            return
        fi
        cat -- "$HT/pge$_hpiece" >&2
    fi
    return "$_hprc"
}
_h_run processes.cmdline _hp_cmdline
# The MAC label of each process (SELinux context, AppArmor "profile (mode)"); nothing on a
# kernel without an LSM that sets it (the read fails with EINVAL there).
_hp_attr() { grep "$_hpa" -s -H '' /proc/[0-9]*/attr/current | head -c "$HPK"; }
_h_run processes.attr _hp_attr
# "/proc/PID/exe<TAB>target" and "/proc/PID/fd/N<TAB>socket:[inode]" NUL-terminated. GNU find
# does it in one process; elsewhere (busybox) one readlink per link.
_hp_links_slow() {
    for _hl in /proc/[0-9]*/exe /proc/[0-9]*/fd/[0-9]*; do
        _ht=$(readlink "$_hl" 2>/dev/null) || continue
        case $_hl in
        */exe) ;;
        *) case $_ht in socket:*) ;; *) continue ;; esac ;;
        esac
        printf '%s\t%s\000' "$_hl" "$_ht"
    done
}
_hp_links() {
    if find /proc/self/ -maxdepth 0 -printf '' >/dev/null 2>&1; then
        find /proc/[0-9]*/exe /proc/[0-9]*/fd -maxdepth 1 -type l \( -name exe -o -lname 'socket:*' \) \
            -printf '%p\t%l\000' 2>/dev/null
    else
        _hp_links_slow
    fi | head -c "$HPK"
}
_h_run processes.links _hp_links
_hp_net() { head -c "$HPK" "$1"; }
for _hpn in tcp tcp6 udp udp6; do
    if [ -e "/proc/net/$_hpn" ]; then _h_run "processes.$_hpn" _hp_net "/proc/net/$_hpn"; else _h_file "processes.$_hpn" "/proc/net/$_hpn"; fi
done
_h_run processes.passwd _hp_net /etc/passwd
