# harden collector: binaries (netcat-likes). Parsed by hardening/facts/binaries.py.
# Finds nc, nc.traditional, nc.openbsd, netcat, ncat, socat and busybox* on PATH and in
# /usr/local, /opt, /tmp, /var/tmp, /dev/shm, /home, /root (find -xdev -maxdepth 4).
# One record per path found: 13 NUL-terminated fields (no field can hold a NUL: paths
# cannot, command output has NULs removed), so names with newlines or tabs parse safely:
#   @bin, path, kind (file|symlink|other), link target, real path, "size uid mode",
#   sha256, magic (first 4 bytes, hex), markers (strings found in the file, not run; one per
#   line, sorted),
#   exec ("run" or "norun:<why>"), help output (--list / nc --help / -h), rpm -qf output
#   (of the path itself and its merged-/usr twin, never of what a link points at),
#   directories: "L uid:hexmode ... P uid:hexmode ..." for every directory above the path as
#   written (L, lstat: a symlinked directory shows as a link) and above its physical parent
#   (P, cd -P); "!" where stat failed. The controller decides from them whether anyone but
#   root could have put the path there.
# Help output comes only from binaries root owns in system directories whose resolved name
# is a netcat's, with timeout 2 and stdin /dev/null: nothing from /tmp, /home or /usr/local
# is ever executed.
# dpkg-query -S gets every path, real path and merged-/usr spelling (/usr/bin/x <-> /bin/x)
# in one call: section binaries.dpkg (exit 1 = some path has no owner, 2 = dpkg failed).
cat >"$HT/binrec.sh" <<'HARDEN_BINREC'
ht=$1
shift
myuid=$(id -u)
has_timeout=
command -v timeout >/dev/null 2>&1 && has_timeout=1
# sys PATH: under a directory only root writes to.
sys() {
    case $1 in
    /usr/bin/* | /usr/sbin/* | /bin/* | /sbin/* | /usr/lib/* | /usr/libexec/* | /lib/* | /usr/games/*) return 0 ;;
    esac
    return 1
}
# rd CMD...: CMD with the file on stdin. A path of the user's can turn into a FIFO between the
# -f test and the open, which would then block for ever: those reads get timeout 5.
rd() {
    if [ -n "$to" ]; then
        timeout 5 sh -c 'f=$1; shift; "$@" <"$f"' sh "$p" "$@"
    else
        "$@" <"$p"
    fi
}
# up PATH: "uid:hexmode" of each directory above PATH, up to /, one stat for all.
up() {
    _u=$1
    set --
    while :; do
        _u=${_u%/*}
        [ -n "$_u" ] || break
        set -- "$@" "$_u"
    done
    set -- "$@" /
    _s=$(stat -c '%u:%f' -- "$@" 2>/dev/null) || _s="$_s !"
    # shellcheck disable=SC2086  # one token per line: uid:hexmode
    printf '%s ' $_s
}
n=0
for p in "$@"; do
    n=$((n + 1))
    if [ "$n" -gt 64 ]; then
        printf '@trunc\0%s\0\0\0\0\0\0\0\0\0\0\0\0' "$#"
        break
    fi
    printf '@bin\0%s\0' "$p"
    if [ -L "$p" ]; then
        printf 'symlink\0'
        readlink -- "$p"
        printf '\0'
    elif [ -f "$p" ]; then
        printf 'file\0\0'
    else
        printf 'other\0\0'
    fi
    real=$(readlink -f -- "$p" && echo x)
    real=${real%x}
    real=${real%?}
    printf '%s\0' "$real"
    to=
    if [ -n "$has_timeout" ] && ! { sys "$p" && sys "$real"; }; then to=5; fi
    st=$(stat -L -c '%s %u %a' -- "$p" 2>/dev/null)
    printf '%s\0' "$st"
    size=${st%% *}
    # Few processes per file: each fork+exec costs about a millisecond of the host's CPU.
    if [ -f "$p" ] && [ -r "$p" ] && [ -n "$size" ] && [ "$size" -le 67108864 ]; then
        h=$(rd sha256sum)
        printf '%.64s' "$h"
    fi
    printf '\0'
    if [ -f "$p" ] && [ -r "$p" ]; then
        m=$(rd od -An -tx1 -N4 2>/dev/null)
        # shellcheck disable=SC2086  # split on purpose: "7f 45 4c 46" -> 7f454c46
        printf '%s' $m
    fi
    printf '\0'
    # Markers, one per line (sorted, unique): from the file itself up to 8 MiB, else its first 8 MiB.
    if [ -f "$p" ] && [ -r "$p" ]; then
        case $size in
        "" | *[!0-9]*) big=1 ;;
        *) if [ "$size" -le 8388608 ]; then big=; else big=1; fi ;;
        esac
        if [ -z "$big" ]; then
            rd grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
                -e 'OpenBSD netcat' -e 'BusyBox v'
        else
            rd head -c 8388608 | grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
                -e 'OpenBSD netcat' -e 'BusyBox v'
        fi | sort -u
    fi
    printf '\0'
    why=""
    case $real in
    /usr/bin/* | /usr/sbin/* | /bin/* | /sbin/* | /usr/lib/* | /usr/libexec/* | /lib/*) ;;
    *) why="not a system directory" ;;
    esac
    case $real in *[!A-Za-z0-9/._+-]*) why="unusual characters in path" ;; esac
    # Only netcat-likes are asked for their help: a symlink named nc may point at any program
    # (ln -s /sbin/halt /tmp/nc: sysvinit's halt -h halts the host).
    if [ -z "$why" ]; then
        case ${real##*/} in
        nc | nc.* | netcat | netcat.* | netcat-* | ncat | ncat.* | socat* | busybox*) ;;
        *) why="not a netcat-like program" ;;
        esac
    fi
    if [ -z "$why" ]; then
        # The file that would run ($real), not what $p pointed at a moment ago: $p may be a
        # symlink its owner switches between a harmless root file and their own.
        rst=$(stat -c '%u %a' -- "$real" 2>/dev/null)
        owner=${rst% *}
        mode=${rst#* }
        case $mode in "" | *[!0-7]*) mode=777 ;; esac
        if [ ! -f "$real" ] || [ "$owner" != 0 ] || [ $((0$mode & 022)) -ne 0 ]; then
            why="not a root-owned regular file, or group/other writable"
        fi
    fi
    if [ -z "$why" ] && [ -z "$has_timeout" ]; then why="no timeout command"; fi
    if [ -z "$why" ] && [ "$myuid" != 0 ] && [ ! -x "$real" ]; then why="not executable"; fi
    if [ -n "$why" ]; then
        printf 'norun:%s\0' "$why"
    else
        printf 'run\0'
        case ${real##*/} in
        busybox*)
            printf '%s\n' '--- --list'
            timeout 2 "$real" --list </dev/null 2>&1 | tr -d '\0' | head -c 8192
            printf '%s\n' '--- nc --help'
            timeout 2 "$real" nc --help </dev/null 2>&1 | tr -d '\0' | head -c 4096
            ;;
        socat*) ;;
        *)
            printf '%s\n' '--- -h'
            timeout 2 "$real" -h </dev/null 2>&1 | tr -d '\0' | head -c 4096
            ;;
        esac
    fi
    printf '\0'
    if ! command -v dpkg-query >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1; then
        # The path itself (rpm does not follow a symlink that is the last component).
        rpm -qf --qf '%{NAME}\n' -- "$p" 2>&1 | tr -d '\0' | head -c 1024
    fi
    printf '\0'
    printf 'L '
    up "$p"
    pd=$(cd -P -- "${p%/*}/" 2>/dev/null && pwd -P && echo x)
    pd=${pd%x}
    pd=${pd%?}
    printf 'P '
    if [ -n "$pd" ]; then up "${pd%/}/x"; else printf '! '; fi
    printf '\0'
    for s in "$p" "$real"; do
        case $s in "" | *[!A-Za-z0-9/._+-]*) continue ;; esac
        echo "$s"
        case $s in
        /usr/bin/*) echo "/bin/${s#/usr/bin/}" ;;
        /bin/*) echo "/usr/bin/${s#/bin/}" ;;
        /usr/sbin/*) echo "/sbin/${s#/usr/sbin/}" ;;
        /sbin/*) echo "/usr/sbin/${s#/sbin/}" ;;
        /usr/lib/*) echo "/lib/${s#/usr/lib/}" ;;
        /lib/*) echo "/usr/lib/${s#/lib/}" ;;
        esac
    done >>"$ht/binspell"
done
HARDEN_BINREC

# Two finds in all (system directories, each real directory once; then the others).
# Exit status: 1 when a find failed (unreadable directory, failed batch).
_bin_find() {
    : >"$HT/binspell"
    _brc=0
    _bd=""
    set --
    for _d in /usr/sbin /usr/bin /sbin /bin /usr/games; do
        [ -d "$_d" ] || continue
        _r=$(cd -P -- "$_d" 2>/dev/null && pwd) || continue
        case " $_bd " in *" $_r "*) continue ;; esac
        _bd="$_bd $_r"
        set -- "$@" "$_d/"
    done
    if [ "$#" -gt 0 ]; then
        find "$@" -maxdepth 1 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" {} + || _brc=1
    fi
    set --
    for _d in /usr/local /opt /tmp /var/tmp /dev/shm /home /root; do
        [ -d "$_d" ] && set -- "$@" "$_d/"
    done
    if [ "$#" -gt 0 ]; then
        find "$@" -xdev -maxdepth 4 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" {} + || _brc=1
    fi
    return "$_brc"
}

# Spellings hold only [A-Za-z0-9/._+-] (others are never packaged names and are skipped),
# so word splitting is safe and dpkg-query sees no glob characters (literal lookups).
_bin_dpkg() {
    [ -s "$HT/binspell" ] || return 0
    # shellcheck disable=SC2046
    dpkg-query -S $(sort -u "$HT/binspell")
}

_h_run binaries.found _bin_find
if _h_has dpkg-query; then
    _h_run binaries.dpkg _bin_dpkg
else
    _h_cmd binaries.dpkg dpkg-query
fi
