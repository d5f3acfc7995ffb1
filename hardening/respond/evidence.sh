# harden respond: evidence of the incident's processes, read before anything is done (read-only).
# Per verified process (pid and start time still match): stat, status, cmdline, environ
# (REMAX bytes), cgroup, fds (RFMAX links), its sockets' lines of the socket tables of its
# network namespace, the parent chain, the executable's path, size and sha256, and a copy
# (base64) of each distinct executable up to RXMAX bytes, RXTOTAL in all. A process that is
# gone or whose pid now belongs to another process is only named (r.check).
_r_b64() { head -c "$RXMAX" "/proc/$1/exe" | base64; }
_r_exe_sum() { sha256sum <"/proc/$1/exe" | cut -c1-64; }
_r_exe_size() { stat -L -c %s "/proc/$1/exe" 2>/dev/null || wc -c <"/proc/$1/exe"; }
_r_fds() {
    _rn=0
    set +f
    set -- "/proc/$1/fd/"*
    set -f
    for _rfd in "$@"; do
        [ -e "$_rfd" ] || [ -L "$_rfd" ] || continue
        if [ "$_rn" -ge "$RFMAX" ]; then
            echo "... more fds, not listed (limit $RFMAX)"
            break
        fi
        printf '%s\t%s\n' "${_rfd##*/}" "$(readlink "$_rfd")"
        _rn=$((_rn + 1))
    done
}
_r_socks() {
    _rin=" "
    _rn=0
    _rpid1=$1
    set +f
    set -- "/proc/$1/fd/"*
    set -f
    for _rfd in "$@"; do
        _rl=$(readlink "$_rfd" 2>/dev/null) || continue
        case $_rl in
        'socket:['*']')
            _rl=${_rl#socket:\[}
            _rin="$_rin${_rl%]} "
            _rn=$((_rn + 1))
            ;;
        esac
        [ "$_rn" -lt 1024 ] || break
    done
    [ "$_rin" = " " ] && return 0
    for _rt in tcp tcp6 udp udp6; do
        [ -r "/proc/$_rpid1/net/$_rt" ] || continue
        awk -v s="$_rin" -v t="$_rt" 'FNR > 1 && index(s, " " $10 " ") { print t ": " $0 }' "/proc/$_rpid1/net/$_rt"
    done | head -c 1048576
}
_r_parents() {
    _rp=$1
    _rn=0
    while [ "$_rp" -gt 1 ] && [ "$_rn" -lt 64 ]; do
        _r_fields "$_rp" || break
        set -- $_rf
        case $2 in '' | *[!0-9]*) break ;; esac
        _rp=$2
        printf '%s\t' "$_rp"
        head -c 4096 "/proc/$_rp/cmdline" 2>/dev/null | tr '\0\n\t' '   '
        printf '\t'
        head -c 4096 "/proc/$_rp/stat" 2>/dev/null | tr '\n' ' '
        echo
        _rn=$((_rn + 1))
    done
}
_r_copied=" "
_r_total=0
for _re in $RP; do
    _rpid=${_re%%:*}
    [ "$(_r_verdict "$_rpid" "${_re#*:}")" = ok ] || continue
    _h_run "e.$_rpid.stat" head -c 65536 "/proc/$_rpid/stat"
    _h_run "e.$_rpid.status" head -c 65536 "/proc/$_rpid/status"
    _h_run "e.$_rpid.cmdline" head -c 65536 "/proc/$_rpid/cmdline"
    _h_run "e.$_rpid.environ" head -c "$REMAX" "/proc/$_rpid/environ"
    _h_run "e.$_rpid.cgroup" head -c 65536 "/proc/$_rpid/cgroup"
    _h_run "e.$_rpid.netns" readlink "/proc/$_rpid/ns/net"
    _h_run "e.$_rpid.fds" _r_fds "$_rpid"
    _h_run "e.$_rpid.sockets" _r_socks "$_rpid"
    _h_run "e.$_rpid.parents" _r_parents "$_rpid"
    _h_run "e.$_rpid.exe" readlink "/proc/$_rpid/exe"
    if _h_has sha256sum; then
        _h_run "e.$_rpid.exe_sha256" _r_exe_sum "$_rpid"
    else
        printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" "e.$_rpid.exe_sha256" "$HN" "e.$_rpid.exe_sha256"
    fi
    _rsz=$(_r_exe_size "$_rpid" 2>/dev/null)
    case $_rsz in '' | *[!0-9]*) _rsz=-1 ;; esac
    _h_run "e.$_rpid.exe_size" echo "$_rsz"
    _rsum=$(_r_exe_sum "$_rpid" 2>/dev/null)
    case $_rsum in *[!0-9a-f]* | '') continue ;; esac
    case $_r_copied in *" $_rsum "*) continue ;; esac
    if [ "$_rsz" -lt 0 ] || [ "$_rsz" -gt "$RXMAX" ]; then
        _h_run "e.$_rpid.exe_copy_skipped" echo "size $_rsz bytes is above the copy limit of $RXMAX bytes"
    elif [ $((_r_total + _rsz)) -gt "$RXTOTAL" ]; then
        _h_run "e.$_rpid.exe_copy_skipped" echo "the copies would pass $RXTOTAL bytes in all"
    elif ! _h_has base64; then
        _h_run "e.$_rpid.exe_copy_skipped" echo "no base64 command on the host"
    else
        _h_run "e.$_rpid.exe_copy" _r_b64 "$_rpid"
        _r_copied="$_r_copied$_rsum "
        _r_total=$((_r_total + _rsz))
    fi
done
