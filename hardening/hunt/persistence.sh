# harden hunt collector piece (Linux), after containers.sh: what would start a shell again
# (persistence), read once per hunt (a --watch reads it in its first sample only: HS=0).
# Per area two sections: "hunt.p.AREA.files" lists the candidate files
# (uid, mode, mtime, size, type, link target, path: one per line) and "hunt.p.AREA.lines" the
# lines that matter of those files as "path:LINE:text" (grep -H -n): what they run. Bounded:
# at most $HPF files per area, $HPL lines per file, $HPW bytes per line, $HPK bytes per section,
# $HPT bytes of lines in all;
# files over $HPS bytes are listed, never read; at most $HPU home directories. File names with
# a newline or over 256 bytes are counted ("hunt.p.AREA.odd"), never read. "hunt.p.owned" says which candidates a
# package owns (dpkg's file lists, one grep -F; or one rpm -qf). Read-only; needs root to read
# other users' files (sudoers, spools, homes). $HR is a root prefix for the tests; empty on hosts.
if [ "${HS:-0}" = 0 ]; then
    HPF=4096
    HPL=200
    HPW=1024
    HPK=1048576
    HPS=1048576
    HPU=512
    HPT=8388608
    _hpleft=$HPT
    _hpt=$(printf '\t')
    _h_file hunt.p.t0 /proc/uptime
    if find /proc/self/ -maxdepth 0 -printf '' >/dev/null 2>&1; then _hpgnu=1; else _hpgnu=; fi
    if grep -I -q x /dev/null 2>/dev/null || [ $? -eq 1 ]; then _hpbin=-I; else _hpbin=-H; fi
    # a FIFO or device put in a file's place between the listing and the read is skipped (GNU grep)
    if grep -D skip -q x /dev/null 2>/dev/null || [ $? -eq 1 ]; then _hpdev="-D skip"; else _hpdev=; fi
    # The homes of /etc/passwd's users (existing directories, each once), root's first.
    _hp_homes() {
        {
            printf '%s\n' "$HR/root"
            cut -d: -f6 "$HR/etc/passwd" 2>/dev/null | sed "s,^,$HR,"
        } | grep -v -x -E '/*|.*/(nonexistent|dev/null)' | awk '!seen[$0]++' | while IFS= read -r _hh; do
            [ -d "$_hh" ] && printf '%s\n' "$_hh"
        done | head -n "$HPU"
    }
    _hp_homes >"$HT/phomes" 2>/dev/null
    # _hp_add PATH...: the regular files and symlinks among PATH (globs expanded by the caller) to
    # $HT/pl, at most $HPF; a name with a newline only counted.
    _hp_add() {
        for _hf in "$@"; do
            [ -f "$_hf" ] || [ -L "$_hf" ] || continue
            case $_hf in
            *"$_h_nl"*) _hpodd=$((_hpodd + 1)) ;;
            *)
                # a longer name is counted too: 4096 of them stay far below ARG_MAX
                [ "${#_hf}" -le 256 ] || { _hpodd=$((_hpodd + 1)) && continue; }
                _hpn=$((_hpn + 1))
                [ "$_hpn" -le "$HPF" ] && printf '%s\n' "$_hf" >>"$HT/pl"
                ;;
            esac
        done
    }
    # _hp_area AREA REGEX [-v]: the two sections of the files in $HT/pl (grep -E REGEX, or -v: the
    # lines not matching it); then resets the list.
    _hp_meta() {
        [ -s "$HT/pl" ] || return 0
        set --
        while IFS= read -r _hf; do set -- "$@" "$_hf"; done <"$HT/pl"
        if [ -n "$_hpgnu" ]; then
            find "$@" -maxdepth 0 -printf '%U\t%m\t%T@\t%s\t%y\t%l\t%p\n'
        else
            for _hf in "$@"; do
                stat -c "%u$_hpt%a$_hpt%Y$_hpt%s$_hpt%F$_hpt$_hpt%n" "$_hf"
            done
        fi | head -c "$HPK"
        [ "$_hpn" -le "$HPF" ] || printf 'capped\t%s\n' "$_hpn"
    }
    _hp_grep() {
        [ -s "$HT/pl" ] || return 0
        set --
        while IFS= read -r _hf; do set -- "$@" "$_hf"; done <"$HT/pl"
        if [ -n "$_hpgnu" ]; then
            # over $HPS bytes: listed, not read (the parser says so)
            find -L "$@" -maxdepth 0 -type f -size -$((HPS + 1))c >"$HT/pr" 2>/dev/null
        else
            for _hf in "$@"; do [ -f "$_hf" ] && printf '%s\n' "$_hf"; done >"$HT/pr"
        fi
        # only regular files (a symlink to a FIFO, a device or a loop is listed, never read)
        set --
        while IFS= read -r _hf; do set -- "$@" "$_hf"; done <"$HT/pr"
        [ "$#" -gt 0 ] || return 0
        _hpcap=$HPK
        [ "$_hpleft" -lt "$_hpcap" ] && _hpcap=$_hpleft
        [ "$_hpcap" -gt 0 ] || { echo "harden: capped: the persistence byte budget ($HPT) is spent" >&2 && return 0; }
        # a line over $HPW bytes keeps its start and its end (a payload after padding stays seen)
        grep "$_hpbin" $_hpdev -H -n -m "$HPL" $_hpv -E "$_hpre" -- "$@" |
            LC_ALL=C awk -v w="$HPW" '{ if (length($0) > w) print substr($0, 1, w / 2) " [...] " substr($0, length($0) - w / 2 + 1); else print }' |
            head -c "$_hpcap" >"$HT/pg"
        set -- $(wc -c <"$HT/pg")
        cat "$HT/pg"
        _hpleft=$((_hpleft - ${1:-0}))
        [ "${1:-0}" -lt "$_hpcap" ] || echo "harden: capped at $_hpcap bytes" >&2
        return 0
    }
    _hp_area() {
        _hpre=$2
        _hpv=$3
        awk '!seen[$0]++' "$HT/pl" >"$HT/pu" && mv "$HT/pu" "$HT/pl"
        _h_run "hunt.p.$1.files" _hp_meta
        _h_run "hunt.p.$1.lines" _hp_grep
        [ "$_hpodd" -gt 0 ] && _h_run "hunt.p.$1.odd" echo "$_hpodd"
        cat "$HT/pl" >>"$HT/pall" 2>/dev/null
        : >"$HT/pl"
        _hpn=0
        _hpodd=0
    }
    : >"$HT/pl"
    : >"$HT/pall"
    _hpn=0
    _hpodd=0
    # Lines that run something: not empty, not a comment (sudoers' #include is a directive).
    _HPCODE='^[[:space:]]*([^#[:space:]]|#include)'
    # cron: system tables, the run-parts directories, users' spools (Debian, Red Hat).
    _hp_add "$HR/etc/crontab" "$HR/etc/anacrontab" "$HR"/etc/cron.d/* "$HR"/etc/cron.hourly/* \
        "$HR"/etc/cron.daily/* "$HR"/etc/cron.weekly/* "$HR"/etc/cron.monthly/* \
        "$HR"/var/spool/cron/crontabs/* "$HR"/var/spool/cron/*
    _hp_area cron "$_HPCODE"
    # at jobs: the job files are shell scripts (the environment first, as "NAME=value; export NAME").
    _hp_add "$HR"/var/spool/cron/atjobs/* "$HR"/var/spool/at/* "$HR"/var/spool/at/spool/*
    _hp_area at '^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*=.*; export [A-Za-z_][A-Za-z0-9_]*|#.*|[[:space:]]*|umask [0-7]*|cd .*\|\| \{)$' -v
    # systemd units, timers, drop-ins (system and user, every unit directory), generators.
    # (systemd.unit(5)'s unit search path: the control, attached and transient directories too.)
    for _hd in /etc/systemd/system.control /run/systemd/system.control /run/systemd/transient \
        /etc/systemd/system.attached /run/systemd/system.attached \
        /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system \
        /lib/systemd/system /run/systemd/generator /run/systemd/generator.early /run/systemd/generator.late \
        /etc/systemd/user.control /etc/systemd/user /etc/xdg/systemd/user /usr/local/lib/systemd/user \
        /usr/local/share/systemd/user /usr/share/systemd/user /usr/lib/systemd/user /lib/systemd/user; do
        [ -d "$HR$_hd" ] || continue
        [ "$_hd" != /lib/systemd/system ] || [ ! "$HR/lib/systemd/system" -ef "$HR/usr/lib/systemd/system" ] || continue
        [ "$_hd" != /lib/systemd/user ] || [ ! "$HR/lib/systemd/user" -ef "$HR/usr/lib/systemd/user" ] || continue
        _hp_add "$HR$_hd"/* "$HR$_hd"/*.wants/* "$HR$_hd"/*.requires/* "$HR$_hd"/*.d/*.conf
    done
    while IFS= read -r _hh; do
        for _hd in .config/systemd/user .config/systemd/user.control .local/share/systemd/user; do
            _hp_add "$_hh/$_hd"/* "$_hh/$_hd"/*.wants/* "$_hh/$_hd"/*.d/*.conf
        done
    done <"$HT/phomes"
    for _hd in /etc/systemd/system-generators /usr/local/lib/systemd/system-generators \
        /usr/lib/systemd/system-generators /etc/systemd/user-generators /usr/lib/systemd/user-generators; do
        _hp_add "$HR$_hd"/*
    done
    _hp_area systemd '^[[:space:]]*(Exec[A-Za-z]*|On[A-Za-z]*Sec|OnCalendar|Unit|EnvironmentFile|Environment[[:space:]]*=.*LD_[A-Z_]*=.*|#!.*|.*\\|[^#[:space:]].*(/dev/tcp|/dev/udp|/tmp/|/dev/shm/|base64|nc |socat|mkfifo).*)[[:space:]]*(=|$)'
    # rc.local and SysV init scripts.
    _hp_add "$HR/etc/rc.local" "$HR/etc/rc.d/rc.local" "$HR"/etc/init.d/* "$HR"/etc/rc.d/init.d/*
    # scripts the system runs as root on an event: every SSH login's message of the day (pam_motd),
    # an interface coming up (ifupdown, NetworkManager)
    _hp_add "$HR"/etc/update-motd.d/* "$HR"/etc/network/if-up.d/* "$HR"/etc/network/if-pre-up.d/* \
        "$HR"/etc/NetworkManager/dispatcher.d/* "$HR"/etc/NetworkManager/dispatcher.d/pre-up.d/*
    _hp_area init "$_HPCODE"
    # Shell start-up files: the system's, and every user's.
    _hp_add "$HR/etc/profile" "$HR"/etc/profile.d/* "$HR/etc/bash.bashrc" "$HR/etc/bashrc" "$HR/etc/environment" \
        "$HR"/etc/zsh/* "$HR/etc/zshrc" "$HR/etc/zprofile" "$HR/etc/csh.cshrc" "$HR/etc/csh.login" "$HR/etc/ssh/sshrc"
    while IFS= read -r _hh; do
        # (~/.ssh/rc: sshd runs it at every login of that user; .bash_aliases: Debian's .bashrc sources it)
        _hp_add "$_hh/.ssh/rc" "$_hh/.bash_aliases" "$_hh/.bashrc" "$_hh/.profile" "$_hh/.bash_profile" "$_hh/.bash_login" "$_hh/.bash_logout" \
            "$_hh/.zshrc" "$_hh/.zprofile" "$_hh/.zshenv" "$_hh/.zlogin" "$_hh/.cshrc" "$_hh/.tcshrc" \
            "$_hh/.kshrc" "$_hh/.mkshrc" "$_hh/.config/fish/config.fish" "$_hh"/.config/autostart/*.desktop
    done <"$HT/phomes"
    # XDG autostart (a desktop session runs each Exec= at login).
    _hp_add "$HR"/etc/xdg/autostart/*.desktop
    _hp_area shell "$_HPCODE"
    # authorized_keys: every home's, and those AuthorizedKeysFile names (%h %u %% expanded).
    _hpakf=$(grep -h -i -E '^[[:space:]]*AuthorizedKeysFile[[:space:]]' "$HR/etc/ssh/sshd_config" \
        "$HR"/etc/ssh/sshd_config.d/*.conf 2>/dev/null | head -n 1 | sed 's/^[[:space:]]*[^[:space:]]*//')
    while IFS= read -r _hh; do
        _hp_add "$_hh/.ssh/authorized_keys" "$_hh/.ssh/authorized_keys2"
        for _hk in $_hpakf; do
            case $_hk in /* | *%*) ;; *) _hp_add "$_hh/$_hk" ;; esac
        done
    done <"$HT/phomes"
    for _hk in $_hpakf; do
        case $_hk in *%*) ;; /*) _hp_add "$HR$_hk" ;; esac
    done
    # %u and %h: once per user of /etc/passwd (at most $HPU), only when sshd's setting has them.
    case $_hpakf in
    *%*)
        head -n "$HPU" "$HR/etc/passwd" >"$HT/ppw" 2>/dev/null
        while IFS=: read -r _hu _hx _hx _hx _hx _hhr _hx; do
            case $_hu$_hhr in '' | *[!A-Za-z0-9._/-]*) continue ;; esac
            for _hk in $_hpakf; do
                case $_hk in *%*) ;; *) continue ;; esac
                _hk=$(printf '%s\n' "$_hk" | sed "s|%%|:|g; s|%u|$_hu|g; s|%h|$_hhr|g; s|:|%|g")
                case $_hk in /*) _hp_add "$HR$_hk" ;; *) _hp_add "$HR$_hhr/$_hk" ;; esac
            done
        done <"$HT/ppw"
        ;;
    esac
    # (sshd matches option names without regard to case: COMMAND= is command=)
    _hp_area keys '(^|[,[:space:]])([Cc][Oo][Mm][Mm][Aa][Nn][Dd]|[Ee][Nn][Vv][Ii][Rr][Oo][Nn][Mm][Ee][Nn][Tt])='
    # ld.so.preload, and the libraries it names (listed for their ownership).
    _hp_add "$HR/etc/ld.so.preload"
    for _hk in $(grep -s -v '^[[:space:]]*#' "$HR/etc/ld.so.preload" | tr ':' ' ' | head -c 65536); do
        _hp_add "$HR$_hk"
    done
    _hp_area preload "$_HPCODE"
    # udev rules that run programs.
    _hp_add "$HR"/etc/udev/rules.d/*.rules "$HR"/run/udev/rules.d/*.rules "$HR"/usr/lib/udev/rules.d/*.rules
    [ "$HR/lib/udev/rules.d" -ef "$HR/usr/lib/udev/rules.d" ] || _hp_add "$HR"/lib/udev/rules.d/*.rules
    _hp_area udev '(RUN|PROGRAM|IMPORT\{program\})'
    # sudoers and what it includes (the drop-in directory).
    _hp_add "$HR/etc/sudoers" "$HR"/etc/sudoers.d/*
    # and the files its include directives name (one level; sudoers(5): #include/@include FILE,
    # #includedir/@includedir DIR), at most 64
    grep -h -E '^[[:space:]]*[#@]include(dir)?[[:space:]]+/' "$HR/etc/sudoers" "$HR"/etc/sudoers.d/* 2>/dev/null |
        awk '{ print $2 }' | head -n 64 >"$HT/pi"
    while IFS= read -r _hk; do
        case $_hk in *%*) continue ;; esac
        if [ -d "$HR$_hk" ]; then _hp_add "$HR$_hk"/*; else _hp_add "$HR$_hk"; fi
    done <"$HT/pi"
    _hp_area sudoers "$_HPCODE"
    # Web roots: server pages (PHP, JSP, ASP.NET), the lines that call a program or evaluate code,
    # or read request input.
    _hp_web() {
        set --
        for _hd in "$HR/var/www" "$HR/srv/www" "$HR/srv/http" "$HR/usr/share/nginx/html" \
            "$HR"/var/lib/tomcat*/webapps "$HR"/usr/share/tomcat*/webapps "$HR"/opt/tomcat*/webapps; do
            [ -d "$_hd" ] && set -- "$@" "$_hd"
        done
        [ "$#" -gt 0 ] || return 0
        # -H (GNU find): a web root that is a symlink (/var/www -> /data/www) is followed, nothing below it; a
        # page that is a symlink is listed (a web server follows it: judged by its target)
        find ${_hpgnu:+-H} "$@" -maxdepth 12 \( -type f -o -type l \) \( -name '*.php' -o -name '*.php[3-8]' -o -name '*.phtml' -o -name '*.phar' \
            -o -name '*.jsp' -o -name '*.jspx' -o -name '*.asp' -o -name '*.aspx' -o -name '*.ashx' \) \
            2>/dev/null | head -n $((HPF + 1))
    }
    _hp_web >"$HT/pw"
    while IFS= read -r _hf; do _hp_add "$_hf"; done <"$HT/pw"
    _hp_area web '(system|exec|passthru|popen|proc_open|eval|assert|create_function|base64_decode|Runtime|ProcessBuilder|Process\.Start|WScript\.Shell|cmd\.exe|`|\$_(GET|POST|REQUEST|COOKIE|SERVER)|getParameter|Request[.[(])'
    # Which candidates a package owns: dpkg's file lists (usr-merged twins too), else rpm.
    _hp_owned() {
        if [ -d "$HR/var/lib/dpkg/info" ]; then
            echo dpkg
            sed "s,^$HR,," "$HT/pall" >"$HT/pc"
            sed -n 's,^/usr/lib/,/lib/,p; s,^/usr/bin/,/bin/,p; s,^/usr/sbin/,/sbin/,p; s,^/lib/,/usr/lib/,p
                s,^/bin/,/usr/bin/,p; s,^/sbin/,/usr/sbin/,p' "$HT/pc" >"$HT/pc2"
            cat "$HT/pc2" >>"$HT/pc"
            [ -s "$HT/pc" ] && grep -h -x -F -f "$HT/pc" "$HR"/var/lib/dpkg/info/*.list | sort -u | head -c "$HPK"
        elif _h_has rpm && [ -z "$HR" ]; then
            echo rpm
            set --
            while IFS= read -r _hf; do set -- "$@" "$_hf"; done <"$HT/pall"
            [ "$#" -gt 0 ] && rpm -qf --qf 'owned %{NAME}\n' -- "$@" 2>&1 | head -c "$HPK"
        else
            echo none
        fi
        return 0
    }
    _h_run hunt.p.owned _hp_owned
    rm -f "$HT/pl" "$HT/pall" "$HT/pc" "$HT/pc2" "$HT/pr" "$HT/pg" "$HT/pw" "$HT/ppw" "$HT/phomes" "$HT/pi"
    _h_file hunt.p.t1 /proc/uptime
fi
