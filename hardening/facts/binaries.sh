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
# Few processes per file: each fork+exec costs about a millisecond of the host's CPU.
nl='
'
# The effective uid (what id -u prints): the header's HEUID, passed by find -exec.
myuid=$1
shift
case $myuid in "" | *[!0-9]*) myuid=$(id -u) ;; esac
has_timeout=
command -v timeout >/dev/null 2>&1 && has_timeout=1
owd=$PWD
# sys PATH: under a directory only root writes to.
sys() {
    case $1 in
    /usr/bin/* | /usr/sbin/* | /bin/* | /sbin/* | /usr/lib/* | /usr/libexec/* | /lib/* | /usr/games/*) return 0 ;;
    esac
    return 1
}
# rd CMD...: CMD with the file on stdin. A path of the user's can turn into a FIFO between the
# -f test and the open, which would then block for ever: those reads get timeout 5 (and a
# shell under it that opens the file: what /proc/self/... names is then that shell).
rd() {
    timeout 5 sh -c 'f=$1; shift; "$@" <"$f"' sh "$p" "$@"
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
# updirs [rst] [p]: one stat for what up "$p" (Ls) and up "$pd/x" (Ps) print; with "rst",
# "uid octal-mode" of $real (rst, as stat -c '%u %a'); with "p", "size uid octal-mode" of $p
# (pst, as stat -L -c '%s %u %a': only for a $p that is no symlink). Status 1 when a stat
# failed: the caller then makes the separate calls, whose output says which one failed.
# Without "p", a path after a path in the same directory with the same real file (nc,
# netcat after nc.openbsd) reuses the answer (_ud, _upd, _ureal, _urst: what the last
# successful stat was asked about).
_ud=
_upd=
_ureal=
_urst=
updirs() {
    _dr=$1
    _dp=$2
    if [ -z "$_dp" ] && [ -n "$_ud" ] && [ "$_ud" = "${p%/*}/" ] && [ "$_upd" = "$pd" ] &&
        [ "$_ureal" = "$real" ] && [ "$_urst" = "$_dr" ]; then
        return 0
    fi
    _ud=
    set --
    _u=$p
    while :; do
        _u=${_u%/*}
        [ -n "$_u" ] || break
        set -- "$@" "$_u"
    done
    set -- "$@" /
    _nl=$#
    if [ -n "$pd" ]; then
        _u="${pd%/}/x"
        while :; do
            _u=${_u%/*}
            [ -n "$_u" ] || break
            set -- "$@" "$_u"
        done
        set -- "$@" /
    fi
    _nall=$#
    _ir=0
    if [ -n "$_dr" ]; then
        set -- "$@" "$real"
        _ir=$#
    fi
    [ -n "$_dp" ] && set -- "$@" "$p"
    _s=$(stat -c '%s %u:%f' -- "$@" 2>/dev/null) || return 1
    Ls=
    Ps='! '
    [ -n "$pd" ] && Ps=
    _i=0
    _z=
    # shellcheck disable=SC2086  # two tokens per line: size uid:hexmode
    for _w in $_s; do
        if [ -z "$_z" ]; then
            _z=$_w
            continue
        fi
        _i=$((_i + 1))
        if [ "$_i" -le "$_nl" ]; then
            Ls="$Ls$_w "
        elif [ "$_i" -le "$_nall" ]; then
            Ps="$Ps$_w "
        else
            _m=${_w#*:}
            case $_m in "" | *[!0-9a-f]*) return 1 ;; esac
            _v=$((0x$_m & 4095))
            _v="${_w%%:*} $(((_v >> 9) * 1000 + (_v >> 6 & 7) * 100 + (_v >> 3 & 7) * 10 + (_v & 7)))"
            if [ "$_i" = "$_ir" ]; then rst=$_v; else pst="$_z $_v"; fi
        fi
        _z=
    done
    [ "$_i" -eq "$#" ] && [ -z "$_z" ] || return 1
    _ud=${p%/*}/
    _upd=$pd
    _ureal=$real
    _urst=$_dr
}
# rdback FILE: $y gets FILE's bytes (no NULs in it) through the shell's read.
rdback() {
    y=
    _l=
    while IFS= read -r _l; do y="$y$_l$nl"; done <"$1"
    y=$y$_l
}
# binhelp: what a netcat-like $real says when asked for help (at most 4 KiB per question,
# 8 KiB of busybox --list, NULs removed).
binhelp() {
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
}
# Content facts of a real path already seen (hash, magic, markers, help output) are reused
# when both paths are in system directories, where no user can switch what a path points
# at: symlink aliases (nc, netcat -> nc.openbsd) cost no second read and no second run.
# Slot k holds cr<k> (the real path), cn<k> (how many paths have it), ch<k>, cm<k>, cx<k>
# ("" when not known yet; cx ends with an "x") and cy<k> (1: the help output is in cb<k>, with
# an "x" after it). eval only ever sees variable names made of letters and digits.
# A first pass finds each path's real path (real<n>) and slot (k<n>, 0: none), so that help
# output is kept only when a second path will use it.
# pd<n>: the physical directory of each path, as cd -P + pwd -P in a subshell would say.
n=0
for p in "$@"; do
    n=$((n + 1))
    [ "$n" -le 64 ] || break
    pd=
    if cd -P -- "${p%/*}/" 2>/dev/null; then
        pd=$PWD
        cd -- "$owd" 2>/dev/null || cd /
    fi
    eval "pd$n=\$pd rfok$n= rlok$n="
done
# rlall f|l PATH...: one readlink -f (f: every path that is no plain file in a known directory)
# or readlink (l: every symlink) for all of them: GNU readlink takes many paths, one line each.
# Only when it exits 0 with one line per path (so no answer holds a newline): rf<n> / rl<n> get
# the answers (without the newline) and rfok<n> / rlok<n> say so; otherwise the passes below
# run one readlink per path, as before. busybox's readlink takes one path: not tried where
# readlink is a symlink (to busybox), nor again after a readlink that failed.
rlno=
command -v readlink >"$ht/binrl" 2>/dev/null
rdback "$ht/binrl"
case $y in /*) [ -L "${y%"$nl"}" ] && rlno=1 ;; *) rlno=1 ;; esac
rlall() {
    [ -z "$rlno" ] || return 0
    _md=$1
    shift
    _n0=$#
    _i=0
    _sel=
    for _q in "$@"; do
        _i=$((_i + 1))
        [ "$_i" -le 64 ] || break
        if [ "$_md" = f ]; then
            eval "_d=\$pd$_i"
            ! [ -L "$_q" ] && [ -f "$_q" ] && [ -n "$_d" ] && continue
        else
            [ -L "$_q" ] || continue
        fi
        _sel="$_sel $_i"
        set -- "$@" "$_q"
    done
    shift "$_n0"
    [ "$#" -ge 2 ] || return 0
    if [ "$_md" = f ]; then
        readlink -f -- "$@" >"$ht/binrl" 2>/dev/null
    else
        readlink -- "$@" >"$ht/binrl" 2>/dev/null
    fi || {
        rlno=1
        return 0
    }
    rdback "$ht/binrl"
    _a=$y
    for _i in $_sel; do
        case $_a in *"$nl"*) ;; *) return 0 ;; esac
        _a=${_a#*"$nl"}
    done
    [ -z "$_a" ] || return 0
    for _i in $_sel; do
        eval "r$_md$_i=\${y%%\"\$nl\"*} r${_md}ok$_i=1"
        y=${y#*"$nl"}
    done
}
rlall f "$@"
rlall l "$@"
ncache=0
n=0
for p in "$@"; do
    n=$((n + 1))
    [ "$n" -le 64 ] || break
    eval "pd=\$pd$n"
    # A file that is not a symlink: readlink -f is its physical directory and its name.
    if ! [ -L "$p" ] && [ -f "$p" ] && [ -n "$pd" ]; then
        real="${pd%/}/${p##*/}"
    elif eval "_ok=\$rfok$n" && [ -n "$_ok" ]; then
        eval "real=\$rf$n"
    else
        # read back by the shell: $(readlink ... && echo x) would cost a second fork
        readlink -f -- "$p" >"$ht/binreal"
        rdback "$ht/binreal"
        real=${y%?}
    fi
    k=0
    if sys "$p" && sys "$real"; then
        _i=0
        while [ "$_i" -lt "$ncache" ]; do
            _i=$((_i + 1))
            eval "_c=\$cr$_i"
            if [ "$_c" = "$real" ]; then
                k=$_i
                break
            fi
        done
        if [ "$k" = 0 ]; then
            ncache=$((ncache + 1))
            k=$ncache
            eval "cr$k=\$real cn$k=0 ch$k= cm$k= cx$k= cy$k= cb$k="
        fi
        eval "cn$k=\$((cn$k + 1))"
    fi
    eval "pd$n=\$pd real$n=\$real k$n=\$k"
done
n=0
for p in "$@"; do
    n=$((n + 1))
    if [ "$n" -gt 64 ]; then
        printf '@trunc\0%s\0\0\0\0\0\0\0\0\0\0\0\0' "$#"
        break
    fi
    eval "pd=\$pd$n real=\$real$n k=\$k$n"
    printf '@bin\0%s\0' "$p"
    plain=
    if [ -L "$p" ]; then
        printf 'symlink\0'
        if eval "_ok=\$rlok$n _t=\$rl$n" && [ -n "$_ok" ]; then
            printf '%s\n' "$_t"
        else
            readlink -- "$p"
        fi
        printf '\0'
    elif [ -f "$p" ]; then
        printf 'file\0\0'
        plain=1
    else
        printf 'other\0\0'
    fi
    printf '%s\0' "$real"
    to=
    if [ -n "$has_timeout" ] && ! { sys "$p" && sys "$real"; }; then to=5; fi
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
    # A file that is no symlink: its stat comes with the directories' (stat -L = stat).
    rstw=
    [ -z "$why" ] && rstw=rst
    fast=
    if [ -n "$plain" ] && updirs "$rstw" p; then
        fast=1
        st=$pst
    else
        st=$(stat -L -c '%s %u %a' -- "$p" 2>/dev/null)
    fi
    printf '%s\0' "$st"
    size=${st%% *}
    if [ -f "$p" ] && [ -r "$p" ] && [ -n "$size" ] && [ "$size" -le 67108864 ]; then
        h=
        [ "$k" = 0 ] || eval "h=\$ch$k"
        if [ -z "$h" ]; then
            if [ -n "$to" ]; then
                h=$(rd sha256sum)
            else
                h=$(sha256sum <"$p")
            fi
            [ "$k" = 0 ] || eval "ch$k=\$h"
        fi
        printf '%.64s' "$h"
    fi
    printf '\0'
    if [ -f "$p" ] && [ -r "$p" ]; then
        m=
        [ "$k" = 0 ] || eval "m=\$cm$k"
        if [ -z "$m" ]; then
            if [ -n "$to" ]; then
                m=$(rd od -An -tx1 -N4 2>/dev/null)
            else
                m=$(od -An -tx1 -N4 2>/dev/null <"$p")
            fi
            # "7f 45 4c 46" -> 7f454c46
            _x=
            for _w in $m; do _x=$_x$_w; done
            m=$_x
            [ "$k" = 0 ] || eval "cm$k=\$m"
        fi
        printf '%s' "$m"
    fi
    printf '\0'
    # Markers, one per line (sorted, unique): from the file itself up to 8 MiB, else its first 8 MiB.
    if [ -f "$p" ] && [ -r "$p" ]; then
        case $size in
        "" | *[!0-9]*) big=1 ;;
        *) if [ "$size" -le 8388608 ]; then big=; else big=1; fi ;;
        esac
        y=
        [ "$k" = 0 ] || eval "y=\$cx$k"
        if [ -z "$y" ]; then
            if [ -n "$big" ]; then
                if [ -n "$to" ]; then
                    rd head -c 8388608
                else
                    head -c 8388608 <"$p"
                fi | grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
                    -e 'OpenBSD netcat' -e 'BusyBox v' >"$ht/binmark"
            elif [ -n "$to" ]; then
                rd grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
                    -e 'OpenBSD netcat' -e 'BusyBox v' >"$ht/binmark"
            else
                grep -a -o -F -e 'program to exec after connect' -e '--sh-exec' -e 'EXEC' \
                    -e 'OpenBSD netcat' -e 'BusyBox v' <"$p" >"$ht/binmark"
            fi
            # sort -u: grep printed only the five markers, the shell sorts up to 1000 of them
            # (C order); more (or anything else) go through sort -u.
            x1=
            x2=
            x3=
            x4=
            x5=
            _i=0
            while IFS= read -r _l || [ -n "$_l" ]; do
                _i=$((_i + 1))
                [ "$_i" -le 1000 ] || break
                case $_l in
                "--sh-exec") x1="--sh-exec$nl" ;;
                "BusyBox v") x2="BusyBox v$nl" ;;
                "EXEC") x3="EXEC$nl" ;;
                "OpenBSD netcat") x4="OpenBSD netcat$nl" ;;
                "program to exec after connect") x5="program to exec after connect$nl" ;;
                *)
                    _i=1001
                    break
                    ;;
                esac
            done <"$ht/binmark"
            if [ "$_i" -le 1000 ]; then
                y=$x1$x2$x3$x4$x5
            else
                sort -u <"$ht/binmark" >"$ht/binsort"
                rdback "$ht/binsort"
            fi
            y=${y}x
            [ "$k" = 0 ] || eval "cx$k=\$y"
        fi
        printf '%s' "${y%x}"
    fi
    printf '\0'
    if [ -z "$fast" ] && updirs "$rstw"; then fast=1; fi
    if [ -z "$why" ]; then
        # The file that would run ($real), not what $p pointed at a moment ago: $p may be a
        # symlink its owner switches between a harmless root file and their own.
        [ -n "$fast" ] || rst=$(stat -c '%u %a' -- "$real" 2>/dev/null)
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
        # The help output straight out; kept in cb<k> when another path has $real: one $(...)
        # (a fork, no NUL in it: binhelp removes them; "x" keeps its last newlines) instead of
        # a cat per path.
        cy=
        cn=0
        [ "$k" = 0 ] || eval "cy=\$cy$k cn=\$cn$k"
        if [ -n "$cy" ]; then
            eval "_h=\$cb$k"
            printf '%s' "${_h%x}"
        elif [ "$cn" -gt 1 ]; then
            _h=$(
                binhelp
                echo x
            )
            eval "cb$k=\$_h cy$k=1"
            printf '%s' "${_h%x}"
        else
            binhelp
        fi
    fi
    printf '\0'
    if ! command -v dpkg-query >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1; then
        # The path itself (rpm does not follow a symlink that is the last component).
        rpm -qf --qf '%{NAME}\n' -- "$p" 2>&1 | tr -d '\0' | head -c 1024
    fi
    printf '\0'
    if [ -n "$fast" ]; then
        printf 'L %sP %s\0' "$Ls" "$Ps"
    else
        printf 'L '
        up "$p"
        printf 'P '
        if [ -n "$pd" ]; then up "${pd%/}/x"; else printf '! '; fi
        printf '\0'
    fi
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
    # The physical directory by cd -P in this shell (no subshell), then back.
    _bo=$PWD
    for _d in /usr/sbin /usr/bin /sbin /bin /usr/games; do
        [ -d "$_d" ] || continue
        cd -P -- "$_d" 2>/dev/null || continue
        _r=$PWD
        cd -- "$_bo" 2>/dev/null || cd /
        case " $_bd " in *" $_r "*) continue ;; esac
        _bd="$_bd $_r"
        set -- "$@" "$_d/"
    done
    if [ "$#" -gt 0 ]; then
        find "$@" -maxdepth 1 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" "$HEUID" {} + || _brc=1
    fi
    set --
    for _d in /usr/local /opt /tmp /var/tmp /dev/shm /home /root; do
        [ -d "$_d" ] && set -- "$@" "$_d/"
    done
    if [ "$#" -gt 0 ]; then
        find "$@" -xdev -maxdepth 4 \( -type f -o -type l \) \( -name nc -o -name nc.traditional \
            -o -name nc.openbsd -o -name netcat -o -name ncat -o -name socat -o -name 'busybox*' \) \
            -exec sh "$HT/binrec.sh" "$HT" "$HEUID" {} + || _brc=1
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
