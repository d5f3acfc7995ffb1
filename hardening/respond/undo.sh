# harden respond --undo-isolate: remove what an isolation added. RID: the isolation's id (hex);
# RNS: the inode of the network namespace its rules are in; RCGD: the cgroup it created ("" if
# none). The namespace is entered through any process still in it (none: the namespace is gone,
# and its rules with it); the cgroup's processes go back to its parent, then it is removed.
_r_undo() {
    _rin=
    _rgone=
    if [ "$(readlink /proc/self/ns/net)" != "net:[$RNS]" ]; then
        _rnp=
        set +f
        set -- /proc/[0-9]*
        set -f
        for _rpd in "$@"; do
            if [ "$(readlink "$_rpd/ns/net" 2>/dev/null)" = "net:[$RNS]" ]; then
                _rnp=${_rpd#/proc/}
                break
            fi
        done
        if [ -z "$_rnp" ]; then
            printf 'netns\tgone (no process left in net:[%s]: its rules went with it)\n' "$RNS"
            _rgone=1
        else
            _rin="nsenter --net=/proc/$_rnp/ns/net"
        fi
    fi
    if [ -z "$_rgone" ]; then
        for _rch in "out_$RID" "in_$RID"; do
            if $_rin nft delete chain inet harden_respond "$_rch" 2>"$HT/nfterr"; then
                printf 'deleted\tchain %s\n' "$_rch"
            else
                printf 'absent\tchain %s: %s\n' "$_rch" "$(head -c 200 "$HT/nfterr" | tr '\n' ' ')"
            fi
        done
        if ! $_rin nft list table inet harden_respond 2>/dev/null | grep -q 'chain '; then
            $_rin nft delete table inet harden_respond 2>/dev/null && printf 'deleted\ttable inet harden_respond\n'
        fi
    fi
    if [ -n "$RCGD" ] && [ -d "$RCGD" ]; then
        case ${RCGD##*/} in "harden-isolate-$RID") ;; *) return 2 ;; esac
        _rn=0
        while read -r _rq; do
            case $_rq in '' | *[!0-9]*) continue ;; esac
            echo "$_rq" 2>/dev/null >"${RCGD%/*}/cgroup.procs" && _rn=$((_rn + 1))
        done <"$RCGD/cgroup.procs"
        if rmdir "$RCGD" 2>"$HT/rmerr"; then
            printf 'deleted\tcgroup %s (%s processes moved back)\n' "$RCGD" "$_rn"
        else
            printf 'kept\tcgroup %s: %s\n' "$RCGD" "$(head -c 200 "$HT/rmerr" | tr '\n' ' ')"
        fi
    fi
    return 0
}
_h_run r.undo _r_undo
