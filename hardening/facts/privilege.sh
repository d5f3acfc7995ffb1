# harden collector: privilege piece. Parsed by hardening/facts/privilege.py.
# What a compromised service would hand an attacker: sudo rights of the accounts that run
# processes, who may write the programs that run and the web roots they serve, and the
# groups of each process. The process table and sockets come from the processes piece.
# Read-only (`sudo -l -U` only lists; `nginx -T` only prints the configuration it would load).
# Host CPU: every program started costs ~1 ms, so the piece starts as few as it can (one cat
# for all sudoers files, one getent for all accounts, nginx -T once, one stat) while printing
# exactly what one program per file/account would.
HRK=4194304
# privilege.sudoers: /etc/sudoers and its include directory (root only).
_h_files privilege.sudoers /etc/sudoers /etc/sudoers.d/*
_h_run privilege.group head -c "$HRK" /etc/group
# privilege.groups: "/proc/PID/status:Groups: ..." supplementary groups of every process.
_hr_groups() { grep -s -H '^Groups:' /proc/[0-9]*/status | head -c "$HRK"; }
_h_run privilege.groups _hr_groups
# The accounts that run processes (not root): "NAME:..." passwd entries (getent: local and
# NSS/LDAP accounts), at most 32 uids, in uid order. The real uid is the first number of
# the kernel's "Uid:\t<real>\t<effective>..." line.
_hr_accounts() {
    _hrus=$(sed -n -e '/^Uid:/!d' -e 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/' -e '/^0$/d' -e p \
        /proc/[0-9]*/status 2>/dev/null)
    # Only root runs processes: no sort, no getent.
    [ -n "$_hrus" ] || return 0
    _hr_sortun || _hrus=$(printf '%s\n' "$_hrus" | sort -un)
    _hrl=
    _hri=0
    for _hru in $_hrus; do
        [ "$_hri" -lt 32 ] || break
        _hrl="$_hrl $_hru"
        _hri=$((_hri + 1))
    done
    # shellcheck disable=SC2086
    [ -z "$_hrl" ] || getent passwd $_hrl
}
# _hr_sortun: $_hrus as sort -un makes it (distinct uids in numeric order), by the shell (one
# sort fewer) when there are at most 512 lines of plain uids (1-10 digits, no leading 0) and at
# most 64 distinct ones: the insertion sort stays a few hundred tests. Otherwise false: sort.
_hr_sortun() {
    # shellcheck disable=SC2086
    set -- $_hrus
    [ "$#" -le 512 ] || return 1
    _hrs=
    _hrk=0
    for _hru in "$@"; do
        case $_hru in '' | 0* | *[!0-9]* | ???????????*) return 1 ;; esac
        case " $_hrs " in *" $_hru "*) continue ;; esac
        _hrk=$((_hrk + 1))
        [ "$_hrk" -le 64 ] || return 1
        _hrn=
        for _hrx in $_hrs; do
            if [ -n "$_hru" ] && [ "$_hru" -lt "$_hrx" ]; then
                _hrn="$_hrn $_hru"
                _hru=
            fi
            _hrn="$_hrn $_hrx"
        done
        _hrs="$_hrn $_hru"
    done
    _hrus=$_hrs
}
# privilege.sudo_list: "== NAME" then `sudo -n -l -U NAME` for each of those accounts (names
# of letters, digits, "_", "." and "-" only, not starting with "." or "-").
# The accounts go through a scratch file, not $(...) and printf | (two forks fewer).
_hr_sudo_list() {
    _hr_accounts >"$HT/ha$_hpiece"
    # No account: nothing to list (and no head to run).
    [ -s "$HT/ha$_hpiece" ] || return 0
    while IFS=: read -r _hrn _hrrest; do
        case $_hrn in
        '' | [!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_]*) continue ;;
        *[!ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-]*) continue ;;
        esac
        printf '== %s\n' "$_hrn"
        if _h_has timeout; then timeout 5 sudo -n -l -U "$_hrn" 2>&1; else sudo -n -l -U "$_hrn" 2>&1; fi
        printf '== rc %s\n' "$?"
    done <"$HT/ha$_hpiece" | head -c "$HRK"
}
if [ "$HEUID" = 0 ] && _h_has sudo; then
    _h_run privilege.sudo_list _hr_sudo_list
fi
# privilege.webroots: the roots web servers serve (nginx -T's root/alias, Apache DocumentRoot).
# The sed that prints a root also writes it for privilege.stat to $HT/wr[nae] (quotes dropped,
# only absolute paths): no cat of a scratch copy for the section, no sed to clean it.
# _hr_roots SUBST FILE: sed -n "${SUBST}p" on stdin (printed by the same s///p: busybox sed's p
# command would add a newline to a last line without one), the cleaned roots to FILE.
_hr_roots() {
    sed -n -e "${1}p" -e 't r' -e d -e ':r' -e 's/"//g' -e "s/'//g" -e "\\|^/|w $2"
}
_hr_webroots() {
    if _h_has nginx; then
        if _h_has timeout; then timeout 5 nginx -T 2>/dev/null; else nginx -T 2>/dev/null; fi |
            _hr_roots 's/^[[:space:]]*\(root\|alias\)[[:space:]]\{1,\}\([^;]*\);.*/\2/' "$HT/wrn$_hpiece"
    fi
    # cat prints nothing for names that do not exist (an unmatched glob): skip cat and sed then.
    for _hrf in /etc/apache2/sites-enabled/* /etc/apache2/apache2.conf /etc/httpd/conf/httpd.conf /etc/httpd/conf.d/*.conf; do
        [ -e "$_hrf" ] || continue
        cat /etc/apache2/sites-enabled/* /etc/apache2/apache2.conf /etc/httpd/conf/httpd.conf /etc/httpd/conf.d/*.conf \
            2>/dev/null | _hr_roots 's/^[[:space:]]*DocumentRoot[[:space:]]\{1,\}"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/' \
            "$HT/wra$_hpiece"
        break
    done
    if [ -d /var/www/html ]; then
        echo /var/www/html
        echo /var/www/html >"$HT/wre$_hpiece"
    fi
    :
}
# privilege.stat: "uid gid rawmode(hex) path" of every running executable, each parent directory up
# to /, and each web root (one stat for all; paths with a newline are left out).
# The running executables: GNU find reads every link in one process, each target marked "x" (for
# _hr_paths to clean; a root never starts with "x"); a find without -printf (busybox) prints
# nothing, and then one readlink per link, cleaned here.
_hr_exes() {
    find /proc/[0-9]*/exe -maxdepth 0 -printf 'x%l\n' >"$HT/pe$_hpiece" 2>/dev/null
    [ -s "$HT/pe$_hpiece" ] && return
    for _hrl in /proc/[0-9]*/exe; do readlink "$_hrl" 2>/dev/null; done | sed -e 's/ (deleted)$//' -e '/^\//!d' \
        >"$HT/pe$_hpiece"
}
# $_hrl: the absolute paths: the first 2000 (sorted), then each with its parent directories up to
# / (sed strips the last "/component" until "/" or nothing is left), sorted, the first 8000. An
# "x" line (an executable) loses its "x" and a " (deleted)" suffix, and must be absolute.
_hr_xsed='/^x/{
s/^x//
s/ (deleted)$//
/^\//!d
}'
_hr_paths() {
    _hr_exes
    set -- "$HT/pe$_hpiece"
    for _hrf in "$HT/wrn$_hpiece" "$HT/wra$_hpiece" "$HT/wre$_hpiece"; do
        [ ! -s "$_hrf" ] || set -- "$@" "$_hrf"
    done
    # At most 2000 lines (nearly always): the first 2000 sorted are all of them, and the final
    # sort alone gives the same list (one sort fewer). A 2001st line makes sed print "!" (sorted
    # first) and stop: then the sort before sed. (The "tc" and ":c" clear sed's substitution flag
    # after the cleaning, for the "ta" loop.)
    _hrp=$(sed -n -e '2001s/.*/!/p' -e 2001q -e "$_hr_xsed" -e tc -e :c -e :a -e '/^\/\{0,1\}$/d' -e p \
        -e 's|/[^/]*$||' -e ta "$@" | sort -u | head -8000)
    case $_hrp in
    '!'*)
        _hrl=$(sed -e "$_hr_xsed" "$@" | sort -u | sed -n -e 2001q -e :a -e '/^\/\{0,1\}$/d' -e p -e 's|/[^/]*$||' \
            -e ta | sort -u | head -8000)
        ;;
    *) _hrl=$_hrp ;;
    esac
}
# One stat for all paths when they fit one command line (as xargs would run it); its output is
# then far below the cap. Otherwise xargs and the cap. (A function, not a subshell, and _hr_paths
# sets $_hrl: two forks fewer; IFS and globbing are restored after.)
_hr_stat() {
    _hr_paths
    IFS=$_h_nl
    set -f
    # shellcheck disable=SC2086
    set -- $_hrl
    if [ "$#" -eq 0 ]; then
        :
    elif [ "$((${#_hrl} + 9 * $#))" -le 65536 ]; then
        stat -c '%u %g %f %n' "$@" 2>/dev/null
    else
        printf '%s\n' "$@" | tr '\n' '\0' | xargs -0 stat -c '%u %g %f %n' 2>/dev/null | head -c "$HRK"
    fi
    unset IFS
    set +f
}
_h_run privilege.webroots _hr_webroots
_h_run privilege.stat _hr_stat
