# harden collector: header. Defines the section helpers every piece uses.
# Runs under any POSIX sh (dash, busybox ash, bash). Reads nothing from the controller
# but this script; prints sections delimited by "@@$HN B name" / "@@$HN E name rc".
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
HT=$(mktemp -d 2>/dev/null || { d=/tmp/harden.$$; mkdir -m 700 "$d" && echo "$d"; })
# Without its private directory the collector would write its scratch files to /: stop.
if [ -z "$HT" ] || [ ! -d "$HT" ]; then
    echo "harden: cannot create a private temporary directory (mktemp -d, /tmp)" >&2
    exit 1
fi
_h_dd=
# On exit: close stdout so that dd (below) writes its last block, wait for it, clean up.
trap 'exec >&-; [ -n "$_h_dd" ] && wait "$_h_dd"; rm -rf "$HT"' EXIT
trap 'exit 130' HUP INT TERM
# The controller stopped reading (timeout, output cap): leave through the EXIT trap (cleanup).
trap 'exit 141' PIPE

# The output leaves in 64 KiB blocks through dd instead of one SSH packet per printf: the
# controller decrypts ~10 packets per host instead of ~200 (its CPU per host drops 5-fold).
# Only when dd works here (tested: it copies "x" into a file the shell reads back, one process
# where $(printf x | dd) forked three times), so a missing or odd dd can never block the FIFO open.
_h_ddx=
_h_ddy=
dd obs=65536 >"$HT/dd" 2>/dev/null <<'HARDEN_DD'
x
HARDEN_DD
_h_ddok=
{ IFS= read -r _h_ddx && ! IFS= read -r _h_ddy && _h_ddok=1; } 2>/dev/null <"$HT/dd"
if [ -n "$_h_ddok" ] && [ "$_h_ddx" = x ] && [ -z "$_h_ddy" ] && mkfifo "$HT/out" 2>/dev/null; then
    dd obs=65536 <"$HT/out" 2>/dev/null &
    _h_dd=$!
    exec >"$HT/out"
fi

# _h_run NAME CMD [ARGS...]: run CMD, capture stdout as section NAME, stderr as NAME!err.
# $_hpiece tells the pieces (which run side by side, see collector.py) their scratch files apart.
# CMD's stderr is fd 4, which this shell holds open: its offset afterwards is how many bytes
# CMD wrote (see _h_err).
# fd 4 is opened read-write (<>, which does not truncate: the file is emptied first) so that
# _h_err can also read past that offset. When the file cannot be opened the command does not
# run, and the section ends with 2, as a failed 2> redirection would.
_hpiece=
_h_run() {
    _hn=$1
    shift
    printf '\n@@%s B %s\n' "$HN" "$_hn"
    _hrc=
    { true >"$HT/err$_hpiece"; } 2>/dev/null
    {
        "$@" 2>&4 4>&- </dev/null
        _hrc=$?
        printf '\n@@%s E %s %s\n' "$HN" "$_hn" "$_hrc"
        if [ -s "$HT/err$_hpiece" ]; then
            printf '\n@@%s B %s!err\n' "$HN" "$_hn"
            _h_err "$HT/err$_hpiece"
            printf '\n@@%s E %s!err 0\n' "$HN" "$_hn"
        fi
    } 4<>"$HT/err$_hpiece"
    [ -n "$_hrc" ] || {
        _hrc=2
        printf '\n@@%s E %s 2\n' "$HN" "$_hn"
    }
}

# _h_err FILE: _h_run's stderr file (fd 4 open on it), at most 64 KiB. Host CPU: a message of up
# to 1 KiB (nearly all are) is read by the shell instead of a head process (~0.9 ms; dash reads
# a byte per syscall, ~0.7 ms per KiB). fd 4's offset (/proc/self/fdinfo/4, "pos:") says how many
# bytes CMD wrote through it; nothing to read at that offset means the file holds no more (bytes
# written through another description, >>/dev/stderr, lie past it, or it was rewritten shorter);
# and the shell's copy counts only when it has exactly that many bytes (read drops NUL bytes).
# Anything else, and a longer message, goes through head. (Only when something else wrote past
# the offset does the check read on, to the end of that line.)
_h_err() {
    _hek=
    _hep=
    _hex=
    { IFS=' 	' read -r _hek _hep; } 2>/dev/null </proc/self/fdinfo/4
    case $_hep in "" | *[!0-9]*) _hep=0 ;; esac
    if [ "$_hek" = pos: ] && [ "${#_hep}" -le 4 ] && [ "$_hep" -ge 1 ] && [ "$_hep" -le 1024 ] &&
        ! { IFS= read -r _hex; } 2>/dev/null <&4 && [ -z "$_hex" ]; then
        _hec=
        _hel=
        { while [ "${#_hec}" -lt "$_hep" ] && IFS= read -r _hel; do
            _hec=$_hec$_hel$_h_nl
            _hel=
        done; } 2>/dev/null <"$1"
        _hec=$_hec$_hel
        if [ "${#_hec}" -eq "$_hep" ]; then
            printf '%s' "$_hec"
            return
        fi
    fi
    head -c 65536 "$1"
}

# _h_has CMD: true when CMD is on PATH.
_h_has() { command -v "$1" >/dev/null 2>&1; }

# _h_cmd NAME CMD [ARGS...]: like _h_run, but exit 127 without running when CMD is absent.
_h_cmd() {
    _hn=$1
    if _h_has "$2"; then
        _h_run "$@"
    else
        printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" "$_hn" "$HN" "$_hn"
    fi
}

# _h_file NAME PATH: the file's content; rc 127 when it does not exist, 1 when unreadable.
_h_file() {
    if [ -e "$2" ]; then
        _h_run "$1" cat -- "$2"
    else
        printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" "$1" "$HN" "$1"
    fi
}

# _h_text NAME PATH: _h_file for a small kernel or text file (/proc, /sys, /etc/os-release; never
# a NUL byte in it), read by the shell instead of a cat process (~1 ms of CPU each in a container;
# dash reads a byte per syscall, so only for files of a few KiB). When the shell reads nothing (an
# empty or unreadable file, a read error such as EINVAL) cat runs after all: its output, message
# and exit code are the section's, exactly as with _h_file. The redirection is on a compound
# command: one that fails on a special builtin (":") would end the whole shell.
_h_text_body() {
    _htc=
    _htl=
    { while IFS= read -r _htl; do
        _htc=$_htc$_htl$_h_nl
        _htl=
    done; } 2>/dev/null <"$1"
    _htc=$_htc$_htl
    if [ -n "$_htc" ]; then printf '%s' "$_htc"; else cat -- "$1"; fi
}
_h_text() {
    if [ -e "$2" ]; then
        _h_run "$1" _h_text_body "$2"
    else
        printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" "$1" "$HN" "$1"
    fi
}

# _h_files NAME GLOB...: every existing file as "==> path <==" blocks (like head/tail).
# Exit 1 when a file could not be read (its block is then empty; stderr says why). A newline
# in a file name is printed as "?" so that a name cannot fake the next block header.
_h_nl='
'
# _h_files_loop GLOB...: the blocks with one cat per file (the reference; past 256 files).
_h_files_loop() {
    _hflrc=0
    for _hfl in "$@"; do
        [ -f "$_hfl" ] || continue
        case $_hfl in
        *"$_h_nl"*) printf '==> %s <==\n' "$(printf '%s' "$_hfl" | tr '\n' '?')" ;;
        *) printf '==> %s <==\n' "$_hfl" ;;
        esac
        cat -- "$_hfl" || _hflrc=1
        printf '\n'
    done
    return "$_hflrc"
}
# _h_files_body GLOB...: the same bytes, exit code and stderr with ONE cat: each block header
# is a scratch file cat reads between the files (cat goes on past a file it cannot read, then
# exits 1, as the loop does). Beyond 256 files (argument size), the loop.
_h_files_body() {
    [ "$#" -le 256 ] || {
        _h_files_loop "$@"
        return
    }
    printf '\n' >"$HT/fn$_hpiece"
    _hfi=0
    for _hff in "$@"; do
        [ -f "$_hff" ] || continue
        _hfi=$((_hfi + 1))
        case $_hff in
        *"$_h_nl"*) printf '==> %s <==\n' "$(printf '%s' "$_hff" | tr '\n' '?')" ;;
        *) printf '==> %s <==\n' "$_hff" ;;
        esac >"$HT/fh$_hpiece.$_hfi"
        set -- "$@" "$HT/fh$_hpiece.$_hfi" "$_hff" "$HT/fn$_hpiece"
    done
    # Drop the globs, keep the (header, file, newline) triples.
    shift "$(($# - _hfi * 3))"
    [ "$_hfi" -gt 0 ] || return 0
    cat -- "$@"
}
# _h_files_capped CAP GLOB...: _h_files_body, at most CAP bytes (a parser flags a cut), and no
# head at all when nothing was read.
_h_files_capped() {
    _hfcap=$1
    shift
    _h_files_body "$@" >"$HT/fc$_hpiece"
    _hfcrc=$?
    [ ! -s "$HT/fc$_hpiece" ] || head -c "$_hfcap" "$HT/fc$_hpiece"
    return "$_hfcrc"
}
_h_files() {
    _hn=$1
    shift
    _h_run "$_hn" _h_files_body "$@"
}

# The effective uid (id -u) and the host name (hostname) from /proc, without a process each.
# HEUID: the effective uid for the pieces (and binaries.sh's record script) too.
HEUID=
if [ -r /proc/self/status ]; then
    while read -r _hk _hr _he _hrest; do
        [ "$_hk" = Uid: ] && HEUID=$_he && break
    done </proc/self/status
fi
case $HEUID in
"" | *[!0-9]*)
    _h_run meta.id id -u
    HEUID=$(id -u 2>/dev/null)
    ;;
*) _h_run meta.id echo "$HEUID" ;;
esac
_h_text meta.os_release /etc/os-release
# meta.uname: what uname -srm prints, from the kernel's sysctls (the UTS namespace's, as uname(2)
# reads them; arch since Linux 6.1) without a process, when the personality is the plain one
# (PER_LINUX32 and UNAME26 change what uname(2) says); uname itself otherwise. Where uname is
# intercepted (qemu-user emulating another machine, a shim on PATH, a preloaded hook) this is the
# kernel's machine, which is what /proc/net's byte order and audit's arch= follow.
_hus=
_hur=
_hum=
_hup=
{ IFS= read -r _hup </proc/self/personality && IFS= read -r _hus </proc/sys/kernel/ostype &&
    IFS= read -r _hur </proc/sys/kernel/osrelease && IFS= read -r _hum </proc/sys/kernel/arch; } 2>/dev/null
if [ "$_hup" = 00000000 ] && [ -n "$_hus" ] && [ -n "$_hur" ] && [ -n "$_hum" ] && _h_has uname; then
    _h_run meta.uname printf '%s %s %s\n' "$_hus" "$_hur" "$_hum"
else
    _h_run meta.uname uname -srm
fi
if [ -r /proc/sys/kernel/hostname ]; then
    _h_text meta.hostname /proc/sys/kernel/hostname
else
    _h_run meta.hostname hostname
fi
