# harden collector: binaries (netcat-likes). Parsed by hardening/facts/binaries.py.
# Finds nc, nc.traditional, nc.openbsd, netcat, ncat, socat and busybox* on PATH and in
# /usr/local, /opt, /tmp, /var/tmp, /dev/shm, /home, /root (find -xdev -maxdepth 4).
# One record per path found: 12 NUL-terminated fields (no field can hold a NUL: paths
# cannot, command output has NULs removed), so names with newlines or tabs parse safely:
#   @bin, path, kind (file|symlink|other), link target, real path, "size uid mode",
#   sha256, magic (first 4 bytes, hex), markers (strings found in the file, not run),
#   exec ("run" or "norun:<why>"), help output (--list / nc --help / -h), rpm -qf output.
# Help output comes only from binaries root owns in system directories, with timeout 2
# and stdin /dev/null: nothing from /tmp, /home or /usr/local is ever executed.
# dpkg-query -S gets every path, real path and merged-/usr spelling (/usr/bin/x <-> /bin/x)
# in one call: section binaries.dpkg (exit 1 = some path has no owner, 2 = dpkg failed).
cat >"$HT/binrec.sh" <<'HARDEN_BINREC'
ht=$1
shift
n=0
for p in "$@"; do
    n=$((n + 1))
    if [ "$n" -gt 64 ]; then
        printf '@trunc\0%s\0\0\0\0\0\0\0\0\0\0\0' "$#"
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
    st=$(stat -L -c '%s %u %a' -- "$p" 2>/dev/null)
    printf '%s\0' "$st"
    size=${st%% *}
    if [ -f "$p" ] && [ -r "$p" ] && [ -n "$size" ] && [ "$size" -le 67108864 ]; then
        sha256sum <"$p" | cut -c1-64 | tr -d '\n'
    fi
    printf '\0'
    [ -r "$p" ] && head -c 4 <"$p" | od -An -tx1 | tr -d ' \n'
    printf '\0'
    [ -f "$p" ] && [ -r "$p" ] && head -c 8388608 <"$p" |
        grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
            -e 'OpenBSD netcat' -e 'BusyBox v' | sort -u | tr '\n' ';'
    printf '\0'
    why=""
    case $real in
    /usr/bin/* | /usr/sbin/* | /bin/* | /sbin/* | /usr/lib/* | /usr/libexec/* | /lib/*) ;;
    *) why="not a system directory" ;;
    esac
    case $real in *[!A-Za-z0-9/._+-]*) why="unusual characters in path" ;; esac
    if [ -z "$why" ] && [ -z "$(find -L "$real" -prune -type f -user 0 ! -perm -020 ! -perm -002 2>/dev/null)" ]; then
        why="not a root-owned regular file, or group/other writable"
    fi
    if [ -z "$why" ] && ! command -v timeout >/dev/null 2>&1; then why="no timeout command"; fi
    if [ -z "$why" ] && [ "$(id -u)" != 0 ] && [ ! -x "$real" ]; then why="not executable"; fi
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
        rpm -qf "${real:-$p}" 2>&1 | tr -d '\0' | head -c 1024
    fi
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

# Exit status: 1 when any find failed (unreadable directory, failed batch), not only the last.
_bin_find() {
    : >"$HT/binspell"
    _brc=0
    _bd=""
    for _d in /usr/sbin /usr/bin /sbin /bin /usr/games; do
        [ -d "$_d" ] || continue
        _r=$(readlink -f "$_d")
        case " $_bd " in *" $_r "*) continue ;; esac
        _bd="$_bd $_r"
        find "$_d/" -maxdepth 1 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" {} + || _brc=1
    done
    for _d in /usr/local /opt /tmp /var/tmp /dev/shm /home /root; do
        [ -d "$_d" ] || continue
        find "$_d/" -xdev -maxdepth 4 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" {} + || _brc=1
    done
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
