# harden respond: act on the incident's processes (RA: suspend, kill or isolate). Every pid is
# checked right before it is signalled or moved: the same start time as when harden listed it
# (r.check's rule), never a process of this session; a pid that now names another process is
# left alone. r.act: "PID<TAB>result[<TAB>detail]"; r.after: "PID<TAB>state" a moment later.

# _r_each FUNC: FUNC PID for every live, verified process of RP in order (root first).
_r_each() {
    for _re in $RP; do
        _rpid=${_re%%:*}
        if _r_mine "$_rpid"; then
            printf '%s\tskipped\tpart of this response session\n' "$_rpid"
            continue
        fi
        _rv=$(_r_verdict "$_rpid" "${_re#*:}")
        if [ "$_rv" != ok ]; then
            printf '%s\t%s\n' "$_rpid" "$_rv"
            continue
        fi
        "$1" "$_rpid"
    done
}

# suspend: SIGSTOP from the root down. A stopped parent cannot react to its child stopping
# (a job-control shell would report it to the peer), and no child is left to act alone long.
_r_stop() {
    if kill -STOP "$1" 2>/dev/null; then printf '%s\tstopped\n' "$1"; else printf '%s\tfailed\tkill -STOP\n' "$1"; fi
}

# kill: every process stopped first (root down: nothing can respawn or react), then SIGKILL.
_r_stop_quiet() { kill -STOP "$1" 2>/dev/null; }
_r_kill() {
    if kill -KILL "$1" 2>/dev/null; then printf '%s\tkilled\n' "$1"; else printf '%s\tfailed\tkill -KILL\n' "$1"; fi
}

_r_after() {
    sleep 1
    for _re in $RP; do
        _rpid=${_re%%:*}
        if [ "$(_r_verdict "$_rpid" "${_re#*:}")" = ok ]; then
            printf '%s\t%s\n' "$_rpid" "$(_r_state "$_rpid")"
        else
            printf '%s\tgone\n' "$_rpid"
        fi
    done
}

# isolate: drop the processes' traffic in their network namespace, nothing else's. New sockets:
# the processes move into a cgroup of their own (a child of theirs, harden-isolate-RID) that an
# nft "socket cgroupv2" rule drops on output. Existing sockets keep the cgroup they were created
# in (the kernel never re-tags them), so their flows (RF, from the evidence) are dropped by
# address and port both ways, and destroyed with ss -K where the kernel allows it.
_r_refuse() {
    printf 'refused\t%s\n' "$1"
    return 3
}
_r_isolate() {
    _rok=
    _rns=
    _rcg=
    _rnp=
    for _re in $RP; do
        _rpid=${_re%%:*}
        _r_mine "$_rpid" && continue
        [ "$(_r_verdict "$_rpid" "${_re#*:}")" = ok ] || continue
        _rn=$(readlink "/proc/$_rpid/ns/net") || {
            _r_refuse "cannot read the network namespace of pid $_rpid"
            return
        }
        _rc=$(sed -n 's/^0:://p' "/proc/$_rpid/cgroup" 2>/dev/null | head -n 1)
        if [ -z "$_rnp" ]; then
            _rns=$_rn _rcg=$_rc _rnp=$_rpid
        elif [ "$_rn" != "$_rns" ]; then
            _r_refuse "the incident's processes are in different network namespaces ($_rns, $_rn)"
            return
        elif [ "$_rc" != "$_rcg" ] && [ "$RCO" != 1 ]; then
            _r_refuse "the incident's processes are in different cgroups ($_rcg, $_rc)"
            return
        fi
        _rok="$_rok $_rpid"
    done
    [ -n "$_rok" ] || {
        _r_refuse "none of the incident's processes is live"
        return
    }
    printf 'netns\t%s\n' "$_rns"
    _h_has nft || {
        _r_refuse "nft (nftables) is not installed on the host"
        return
    }
    _rin=
    if [ "$(readlink /proc/self/ns/net)" != "$_rns" ]; then
        _h_has nsenter || {
            _r_refuse "the processes are in another network namespace and nsenter is not installed"
            return
        }
        _rin="nsenter --net=/proc/$_rnp/ns/net"
    fi
    {
        echo "add table inet harden_respond"
        echo "add chain inet harden_respond out_$RID { type filter hook output priority -5; policy accept; }"
        echo "add chain inet harden_respond in_$RID { type filter hook input priority -5; policy accept; }"
        echo "flush chain inet harden_respond out_$RID"
        echo "flush chain inet harden_respond in_$RID"
    } >"$HT/rules.nft"
    if [ "$RCO" != 1 ]; then
        _r_cgroup || return
        echo "add rule inet harden_respond out_$RID socket cgroupv2 level $_rlevel \"$_rpath\" drop" >>"$HT/rules.nft"
    fi
    for _rfl in $RF; do
        IFS=, read -r _rpr _rfa _rla _rlp _rra _rrp <<EOR
$_rfl
EOR
        _rip=ip
        [ "$_rfa" = 6 ] && _rip=ip6
        echo "add rule inet harden_respond out_$RID $_rip saddr $_rla $_rip daddr $_rra $_rpr sport $_rlp $_rpr dport $_rrp drop"
        echo "add rule inet harden_respond in_$RID $_rip saddr $_rra $_rip daddr $_rla $_rpr sport $_rrp $_rpr dport $_rlp drop"
    done >>"$HT/rules.nft"
    if ! $_rin nft -f "$HT/rules.nft" 2>"$HT/nfterr"; then
        _r_refuse "nft could not load the rules: $(head -c 400 "$HT/nfterr" | tr '\n' ' ')"
        [ "$RCO" = 1 ] || _r_uncgroup
        return
    fi
    printf 'chains\tout_%s in_%s\n' "$RID" "$RID"
    for _rfl in $RF; do
        IFS=, read -r _rpr _rfa _rla _rlp _rra _rrp <<EOR
$_rfl
EOR
        _rt=-t
        [ "$_rpr" = udp ] && _rt=-u
        if [ "$_rfa" = 6 ]; then _rsrc="[$_rla]:$_rlp" _rdst="[$_rra]:$_rrp"; else _rsrc="$_rla:$_rlp" _rdst="$_rra:$_rrp"; fi
        if _h_has ss; then
            _rk=$($_rin ss -K -n -H "$_rt" src "$_rsrc" dst "$_rdst" 2>&1 | head -c 2000 | tr '\n\t' '  ')
            printf 'ss-K\t%s %s %s: %s\n' "$_rpr" "$_rsrc" "$_rdst" "${_rk:-no socket destroyed}"
        fi
    done
    return 0
}

# The cgroup v2 part of isolate: _rlevel and _rpath for the rule, the processes moved.
_r_cgroup() {
    [ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ] || {
        _r_refuse "this session is not in the host's initial pid namespace (a container?): a cgroup's level cannot be known from here; respond from the host that runs it, or use --connections-only"
        return
    }
    # kthreadd sits in the hierarchy's root cgroup: "/" unless this session's cgroup namespace is
    # rooted lower (then every path it reads is relative, and a rule's level unknowable).
    [ "$(sed -n 's/^0:://p' /proc/2/cgroup 2>/dev/null)" = / ] || {
        _r_refuse "this session is in a cgroup namespace of its own: respond from the host's, or use --connections-only"
        return
    }
    _rmnt=$(sed -n 's/^[^ ]* [^ ]* [^ ]* \([^ ]*\) \([^ ]*\) .* - cgroup2 .*/\1 \2/p' /proc/self/mountinfo | head -n 1)
    [ -n "$_rmnt" ] || {
        _r_refuse "no cgroup v2 hierarchy is mounted (cgroup v1 only): nft socket cgroupv2 cannot match; use --connections-only"
        return
    }
    _rmp=${_rmnt#* }
    [ "${_rmnt%% *}" = / ] || {
        _r_refuse "the cgroup2 mount at $_rmp is not the hierarchy's root"
        return
    }
    case $_rmp in
    /sys/fs/cgroup) _rrel= ;;
    /sys/fs/cgroup/*) _rrel=${_rmp#/sys/fs/cgroup} ;;
    *)
        _r_refuse "cgroup2 is mounted at $_rmp, not under /sys/fs/cgroup where nft resolves cgroup paths"
        return
        ;;
    esac
    case $_rcg in
    /*) ;;
    *)
        _r_refuse "the processes' cgroup v2 path is unknown"
        return
        ;;
    esac
    case $_rcg$_rrel in
    *[!A-Za-z0-9_.:@/+-]* | *..*)
        _r_refuse "the cgroup path has characters an nft rule cannot carry safely: $_rcg"
        return
        ;;
    esac
    _rdir=$_rmp${_rcg%/}
    [ -f "$_rdir/cgroup.procs" ] || {
        _r_refuse "the cgroup directory $_rdir is not there"
        return
    }
    _rtype=domain
    [ -r "$_rdir/cgroup.type" ] && _rtype=$(cat "$_rdir/cgroup.type")
    [ "$_rtype" = domain ] || {
        _r_refuse "the processes' cgroup is $_rtype: a threaded cgroup cannot take a child for whole processes"
        return
    }
    _rothers=0
    while read -r _rq; do
        case " $_rok " in *" $_rq "*) ;; *) _rothers=$((_rothers + 1)) ;; esac
    done <"$_rdir/cgroup.procs"
    printf 'cgroup\t%s\nsharing\t%s\n' "$_rcg" "$_rothers"
    _rnew=$_rdir/harden-isolate-$RID
    if ! mkdir "$_rnew" 2>"$HT/mkerr" && ! [ -d "$_rnew" ]; then
        _r_refuse "cannot create the cgroup $_rnew ($(head -c 200 "$HT/mkerr" | tr '\n' ' ')): the cgroup file system is not writable here; --connections-only drops only the existing connections"
        return
    fi
    printf 'cgroup_dir\t%s\n' "$_rnew"
    # Moving whole processes into a new leaf below their own cgroup keeps cgroup v2's rule that a
    # cgroup with controllers enabled for its children holds no processes: theirs holds processes
    # already, so it has none enabled; the leaf gets what the parent gives (nothing or the same).
    for _re in $RP; do
        _rpid=${_re%%:*}
        case " $_rok " in *" $_rpid "*) ;; *) continue ;; esac
        [ "$(_r_verdict "$_rpid" "${_re#*:}")" = ok ] || continue
        if ! echo "$_rpid" 2>/dev/null >"$_rnew/cgroup.procs"; then
            _r_refuse "cannot move pid $_rpid into $_rnew"
            _r_uncgroup
            return
        fi
        printf 'moved\t%s\n' "$_rpid"
    done
    _rpath=$_rrel${_rcg%/}/harden-isolate-$RID
    _rpath=${_rpath#/}
    _rlevel=$(printf '%s' "${_rcg%/}/harden-isolate-$RID" | tr -cd / | wc -c)
    _rlevel=$((_rlevel + 0))
    printf 'rule\tsocket cgroupv2 level %s "%s"\n' "$_rlevel" "$_rpath"
    return 0
}

# Undo a half-done isolation: processes back to their cgroup, the new one removed.
_r_uncgroup() {
    [ -n "$_rnew" ] && [ -d "$_rnew" ] || return 0
    while read -r _rq; do
        case $_rq in '' | *[!0-9]*) continue ;; esac
        echo "$_rq" 2>/dev/null >"$_rdir/cgroup.procs"
    done <"$_rnew/cgroup.procs"
    rmdir "$_rnew" 2>/dev/null
}

_r_rules() { $_rin nft list table inet harden_respond; }

case $RA in
suspend) _h_run r.act _r_each _r_stop ;;
kill)
    _r_each _r_stop_quiet >/dev/null
    _h_run r.act _r_each _r_kill
    ;;
isolate)
    _rin=
    _h_run r.isolate _r_isolate
    _h_run r.rules _r_rules
    ;;
esac
_h_run r.after _r_after
