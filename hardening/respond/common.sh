# harden respond: helpers shared by the evidence, action and undo scripts (after header.sh).
# The controller sets RP ("PID:START ..." with START the start time in centiseconds since the
# epoch, as harden hunt computed it; root first, then down the tree) and nothing else from the
# host: every pid is an integer the controller validated. Host text is data here, never code.
set -f
HB=$(sed -n 's/^btime \([0-9][0-9]*\)$/\1/p' /proc/stat)
HC=$(getconf CLK_TCK 2>/dev/null)
case $HC in '' | *[!0-9]* | 0) HC=100 ;; esac
case $HB in '' | *[!0-9]*) HB=0 ;; esac
_r_tab=$(printf '\t')

# _r_fields PID: the fields of /proc/PID/stat after "comm) " (state first), in $_rf; false when gone.
_r_fields() {
    _rf=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$_rf" ] || return 1
    _rf=${_rf##*') '}
}

# _r_start PID: its start time in centiseconds since the epoch (btime + starttime / CLK_TCK).
_r_start() {
    _r_fields "$1" || return 1
    set -- $_rf
    [ $# -ge 20 ] || return 1
    case ${20} in '' | *[!0-9]*) return 1 ;; esac
    echo $((HB * 100 + ${20} * 100 / HC))
}

# _r_state PID: the process state letter (R, S, T, Z, ...), nothing when gone.
_r_state() {
    _r_fields "$1" || return 1
    set -- $_rf
    echo "$1"
}

# _r_verdict PID START: ok (the same process), gone, or reused (another process has the pid now).
_r_verdict() {
    if [ "$1" -le 1 ]; then
        echo reused
        return
    fi
    _rg=$(_r_start "$1") || {
        echo gone
        return
    }
    _rd=$((_rg - $2))
    if [ "$_rd" -ge -1 ] && [ "$_rd" -le 1 ]; then echo ok; else echo reused; fi
}

# The pids of this response session (this shell and its ancestors): never acted on.
_r_self=" "
_rp=$$
_ri=0
while [ "$_rp" -gt 1 ] && [ "$_ri" -lt 64 ]; do
    _r_self="$_r_self$_rp "
    _r_fields "$_rp" || break
    set -- $_rf
    case $2 in '' | *[!0-9]*) break ;; esac
    _rp=$2
    _ri=$((_ri + 1))
done

# _r_mine PID: true when PID belongs to this response session.
_r_mine() {
    case $_r_self in *" $1 "*) return 0 ;; esac
    return 1
}

_r_check_all() {
    for _re in $RP; do
        _rpid=${_re%%:*}
        printf '%s\t%s\n' "$_rpid" "$(_r_verdict "$_rpid" "${_re#*:}")"
    done
}
_h_run r.check _r_check_all
