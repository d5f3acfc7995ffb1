# harden collector: dns (query logging). Parsed by hardening/facts/dns.py.
# Where do this host's DNS queries go, and does whatever answers them log them?
#   dns.resolv_link      "link <readlink>" / "real <readlink -f>" of /etc/resolv.conf
#   dns.resolv_conf      /etc/resolv.conf
#   dns.resolved_upstream /run/systemd/resolve/resolv.conf (systemd-resolved's upstreams)
#   dns.resolvectl       resolvectl status (only when resolvectl exists)
#   dns.resolved_conf    resolved.conf and drop-ins
#   dns.procs            running resolvers from /proc: pid, uid, comm and NUL-separated
#                        argv (both hex-encoded: any byte survives), socket inodes of fds
#   dns.addrs            ip -o addr show (is a nameserver address one of this host's own?)
#   dns.udp .udp6 .tcp .tcp6  /proc/net lines whose local port is 53 (0035); instead of .tcp .tcp6,
#   dns.tcp_from         "processes" when the processes piece runs beside this one (dns.py then
#                        reads its processes.tcp and processes.tcp6)
#   dns.dnsmasq_conf     dnsmasq config files (comments dropped) as "==> path <==" blocks: /etc/dnsmasq.conf,
#                        /etc/dnsmasq.d, -C/-7 of running dnsmasqs, conf-file/conf-dir includes
#   dns.unbound          unbound-checkconf -o per config (running -c configs and the default)
#   dns.unbound_conf     unbound config files (used when unbound-checkconf is missing)
#   dns.named            named-checkconf -p (effective config, includes resolved)
#   dns.rndc             rndc status of a running named (says whether query logging is ON)
# Few processes: each fork+exec costs about a millisecond of the host's CPU. /proc is scanned
# once (_dns_scan), files are read with the shell's read, and a tool runs only where the shell
# cannot give the same bytes.
_dns_t() {
    if _h_has timeout; then timeout 3 "$@"; else "$@"; fi
}

# A plain file in a real /etc needs no readlink: "link" is empty, "real" is the path itself.
# A link to a file that exists and is not a link itself needs no readlink -f: "real" is the
# physical directory of the target (cd -P in this shell, then back) and its name.
_dns_link() {
    if [ -f /etc/resolv.conf ] && ! [ -L /etc/resolv.conf ] && ! [ -L /etc ]; then
        printf 'link \nreal /etc/resolv.conf\n'
        return
    fi
    _dl=$(readlink /etc/resolv.conf)
    printf 'link %s\n' "$_dl"
    case $_dl in
    /*) _dt=$_dl ;;
    ?*) _dt=/etc/$_dl ;;
    *) _dt= ;;
    esac
    _dx=
    case ${_dt##*/} in
    "" | . | ..) ;;
    *)
        if [ -L /etc/resolv.conf ] && ! [ -L /etc ] && [ -e "$_dt" ] && ! [ -L "$_dt" ]; then
            _dwd=$PWD
            if cd -P -- "${_dt%/*}/" 2>/dev/null; then
                _dx=${PWD%/}/${_dt##*/}
                cd -- "$_dwd" 2>/dev/null || cd /
            fi
        fi
        ;;
    esac
    if [ -n "$_dx" ]; then
        printf 'real %s\n' "$_dx"
    else
        printf 'real %s\n' "$(readlink -f /etc/resolv.conf)"
    fi
}

# _dns_scan: $_dns_found = " pid:comm ..." of every running resolver, in /proc order.
_dns_scan() {
    _dns_found=
    for _dp in /proc/[0-9]*; do
        read -r _dc 2>/dev/null <"$_dp/comm" || continue
        case $_dc in
        dnsmasq | unbound | named | systemd-resolve | systemd-resolved | pdns_recursor | kresd | coredns | \
            dnscrypt-proxy | stubby | cloudflared | dnsdist | knotd)
            _dns_found="$_dns_found ${_dp#/proc/}:$_dc"
            ;;
        esac
    done
}

# _dns_hex FILE: the file's bytes as hex (od -An -v -tx1 | tr -d ' \n'). The shell joins
# od's words of a short file; past 24 lines (384 bytes) tr does: dash reads a byte per
# syscall, and reading more than ~1 KiB costs more than a tr.
_dns_hex() {
    od -An -v -tx1 >"$HT/dnshex" 2>/dev/null <"$1"
    _dh=
    _dhn=0
    while read -r _dl; do
        _dhn=$((_dhn + 1))
        if [ "$_dhn" -gt 24 ]; then
            tr -d ' \n' <"$HT/dnshex"
            return
        fi
        for _dw in $_dl; do _dh=$_dh$_dw; done
    done <"$HT/dnshex"
    printf '%s' "$_dh"
}

# _dns_args PID: the process's argv, one argument per line, in $HT/dnsarg.
_dns_args() {
    tr '\0' '\n' >"$HT/dnsarg" 2>/dev/null <"/proc/$1/cmdline"
}

# _dns_socks FILE: what grep -o 'socket:\[[0-9]*\]' | tr -dc '0-9\n' | tr '\n' ' ' makes of FILE
# (ls -l of fd/), by the shell; _dls=no when a line other than "total" has no " -> target".
_dns_socks() {
    _dsk=
    while IFS= read -r _dl || [ -n "$_dl" ]; do
        case $_dl in
        "total "*) ;;
        *" -> "*) ;;
        *) _dls=no ;;
        esac
        while :; do
            case $_dl in *'socket:['*) ;; *) break ;; esac
            _dl=${_dl#*'socket:['}
            _dx=${_dl%%[!0-9]*}
            _dl=${_dl#"$_dx"}
            case $_dl in "]"*)
                _dsk="$_dsk$_dx "
                _dl=${_dl#"]"}
                ;;
            esac
        done
    done <"$1"
    printf '%s' "$_dsk"
}

_dns_procs() {
    for _dt in $_dns_found; do
        _dpid=${_dt%%:*}
        _dd=/proc/$_dpid
        printf '@proc %s\n' "$_dpid"
        _du=""
        while read -r _dk _dv _drest; do
            [ "$_dk" = "Uid:" ] && _du=$_dv
        done 2>/dev/null <"$_dd/status"
        printf 'uid %s\n' "$_du"
        printf 'comm '
        _dns_hex "$_dd/comm"
        printf '\ncmdline '
        _dns_hex "$_dd/cmdline"
        printf '\nsockets '
        _dfr=yes
        _dls=yes
        ls -l "$_dd/fd/" >"$HT/dnsfd" 2>/dev/null || _dls=no
        _dns_socks "$HT/dnsfd"
        # Listing fd/ is not enough: reading the links needs ptrace access (root with
        # CAP_SYS_PTRACE, or the same uid). When ls -l listed fd/ and read every link (each
        # line has its " -> target"), readlink would too; otherwise ask readlink per fd.
        if [ "$_dls" = no ]; then
            ls "$_dd/fd/" >/dev/null 2>&1 || _dfr=no
            if [ "$_dfr" = yes ]; then
                for _df in "$_dd"/fd/*; do
                    [ -e "$_df" ] || [ -L "$_df" ] || continue
                    readlink "$_df" >/dev/null 2>&1 || {
                        _dfr=no
                        break
                    }
                done
            fi
        fi
        printf '\nfd_readable %s\n' "$_dfr"
    done
}

# _dns_trusted PID NAME: true when PID runs the system's NAME binary. Config paths named on a
# command line are followed (read as root) only for those: comm is just a file name, so any
# user can start a script called dnsmasq with "-C /etc/shadow". Without ptrace access to
# /proc/PID/exe nothing is followed, and the parser then reports the config as not read.
_dns_trusted() {
    _dtx=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    _dtx=${_dtx% (deleted)}
    case $_dtx in
    /usr/sbin/"$2" | /usr/bin/"$2" | /sbin/"$2" | /bin/"$2") return 0 ;;
    esac
    return 1
}

# Config paths named on running dnsmasq command lines (-C/--conf-file, -7/--conf-dir).
_dns_dm_cmdline_paths() {
    for _dt in $_dns_found; do
        case $_dt in *:dnsmasq) ;; *) continue ;; esac
        _dpid=${_dt%%:*}
        _dns_trusted "$_dpid" dnsmasq || continue
        _dns_args "$_dpid"
        _dprev=""
        while IFS= read -r _da; do
            case $_dprev in -C | --conf-file) echo "$_da" ;; -7 | --conf-dir) echo "${_da%%,*}" ;; esac
            case $_da in
            --conf-file=*) echo "${_da#--conf-file=}" ;;
            --conf-dir=*)
                _dx=${_da#--conf-dir=}
                echo "${_dx%%,*}"
                ;;
            -C?*) echo "${_da#-C}" ;;
            -7?*)
                _dx=${_da#-7}
                echo "${_dx%%,*}"
                ;;
            esac
            _dprev=$_da
        done <"$HT/dnsarg"
    done
}

# Breadth first over the includes, at most 64 paths. Each file is shown by one head | sed,
# which also copies its conf-* lines to $HT/dmc; only when there are some does a second
# head | sed pick the include paths out. Only the option lines dns.py reads are shown
# (log-queries, log-facility, port, conf-file, conf-dir: "name" or "name=value", as dnsmasq
# splits a line; each a sed "b" to print it, every other line deleted): a file named on a
# command line is read as root, and any user can start the system's dnsmasq with
# "-C /etc/shadow" (kept stopped under ptrace until the audit comes): nothing else of such a
# file may reach the report.
_dns_dnsmasq_conf() {
    _dq=$HT/dmq
    _dnx=$HT/dmnext
    {
        echo /etc/dnsmasq.conf
        echo /etc/dnsmasq.d
        _dns_dm_cmdline_paths
    } >"$_dq"
    _dseen=$_h_nl
    _dn=0
    while [ -s "$_dq" ] && [ "$_dn" -lt 64 ]; do
        : >"$_dnx"
        while IFS= read -r _df; do
            case $_df in /proc/* | /sys/* | /dev/*) continue ;; /*) ;; *) continue ;; esac
            case $_dseen in *"$_h_nl$_df$_h_nl"*) continue ;; esac
            _dseen=$_dseen$_df$_h_nl
            _dn=$((_dn + 1))
            [ "$_dn" -gt 64 ] && break
            if [ -d "$_df" ]; then
                for _dg in "$_df"/*; do
                    [ -f "$_dg" ] && echo "$_dg" >>"$_dnx"
                done
            elif [ -f "$_df" ]; then
                printf '==> %s <==\n' "$_df"
                # at most 1 MiB per file: a config is small, a hostile include need not be
                head -c 1048576 <"$_df" | sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
                    -e "/^[[:space:]]*conf-/w $HT/dmc" \
                    -e '/^[[:space:]]*log-queries[[:space:]]*\(=.*\)\{0,1\}$/b' \
                    -e '/^[[:space:]]*log-facility[[:space:]]*\(=.*\)\{0,1\}$/b' \
                    -e '/^[[:space:]]*port[[:space:]]*\(=.*\)\{0,1\}$/b' \
                    -e '/^[[:space:]]*conf-file[[:space:]]*\(=.*\)\{0,1\}$/b' \
                    -e '/^[[:space:]]*conf-dir[[:space:]]*\(=.*\)\{0,1\}$/b' -e d
                if [ -s "$HT/dmc" ]; then
                    head -c 1048576 <"$_df" | sed -n -e 's/^[[:space:]]*conf-file=\([^,]*\).*/\1/p' \
                        -e 's/^[[:space:]]*conf-dir=\([^,]*\).*/\1/p' >>"$_dnx"
                fi
            fi
        done <"$_dq"
        _dx=$_dq
        _dq=$_dnx
        _dnx=$_dx
    done
}

# _dns_oneline CMD...: CMD's output (stdout and stderr) with every newline made a space.
_dns_oneline() {
    _dv=$("$@" 2>&1
        echo x)
    _dv=${_dv%x}
    while :; do
        case $_dv in
        *"$_h_nl"*) _dv="${_dv%%"$_h_nl"*} ${_dv#*"$_h_nl"}" ;;
        *) break ;;
        esac
    done
}

# _dns_as PID CMD...: CMD (under timeout 3) with the rights of process PID: its real uid and
# gid and its supplementary groups (setpriv), unless PID runs as this collector's own uid. For
# the configs a resolver's command line names (-c): the system's named or unbound can be started
# by any user with "-c /etc/shadow" (kept stopped under ptrace until the audit comes), and the
# check tools quote what they cannot parse; read with the rights of whoever runs the resolver,
# a config shows nothing that user could not read. A root-started named or unbound that dropped
# to its own account reads its config as that account here (it is that account's to read).
# Without setpriv (or not as root) such a config is not read: exit 126, and the parser says so.
_dns_as() {
    _dap=$1
    shift
    _dau=
    _dag=
    _das=
    while read -r _dak _dav; do
        case $_dak in
        Uid:) _dau=${_dav%%[!0-9]*} ;;
        Gid:) _dag=${_dav%%[!0-9]*} ;;
        Groups:) _das=$_dav ;;
        esac
    done 2>/dev/null <"/proc/$_dap/status"
    case $_dau:$_dag:$_das in
    :* | *::* | *[!0-9:\ ]*)
        echo "harden: cannot read the credentials of pid $_dap" >&2
        return 126
        ;;
    esac
    if _h_has timeout; then set -- timeout 3 "$@"; fi
    if [ "$_dau" = "$HEUID" ]; then
        "$@"
        return
    fi
    if [ "$HEUID" != 0 ] || ! _h_has setpriv; then
        echo "harden: not reading what pid $_dap (uid $_dau) names with other rights than its own (setpriv missing or not root)" >&2
        return 126
    fi
    _dal=
    for _dg in $_das; do _dal=${_dal:+$_dal,}$_dg; done
    if [ -n "$_dal" ]; then
        setpriv --reuid="$_dau" --regid="$_dag" --groups="$_dal" -- "$@"
    else
        setpriv --reuid="$_dau" --regid="$_dag" --clear-groups -- "$@"
    fi
}

# The configs of the trusted unbounds' -c (each with that process's rights, see _dns_as), then
# the default one (as root): each path once, as "PID" (or "-") and path lines.
_dns_unbound() {
    _dus=$_h_nl/etc/unbound/unbound.conf$_h_nl
    : >"$HT/ubcfg"
    for _dt in $_dns_found; do
        case $_dt in *:unbound) ;; *) continue ;; esac
        _dpid=${_dt%%:*}
        _dns_trusted "$_dpid" unbound || continue
        _dns_args "$_dpid"
        _dprev=""
        while IFS= read -r _da; do
            if [ "$_dprev" = "-c" ]; then
                case $_dus in
                *"$_h_nl$_da$_h_nl"*) ;;
                *)
                    _dus=$_dus$_da$_h_nl
                    printf '%s\n%s\n' "$_dpid" "$_da" >>"$HT/ubcfg"
                    ;;
                esac
            fi
            _dprev=$_da
        done <"$HT/dnsarg"
    done
    printf '%s\n%s\n' - /etc/unbound/unbound.conf >>"$HT/ubcfg"
    while IFS= read -r _dcp && IFS= read -r _dc; do
        [ -f "$_dc" ] || continue
        printf '@config %s\n' "$_dc"
        for _do in log-queries log-replies log-servfail log-tag-queryreply use-syslog logfile verbosity \
            tls-upstream; do
            if [ "$_dcp" = - ]; then
                _dns_oneline _dns_t unbound-checkconf -o "$_do" "$_dc"
            else
                _dns_oneline _dns_as "$_dcp" unbound-checkconf -o "$_do" "$_dc"
            fi
            printf '%s=%s\n' "$_do" "$_dv"
        done
    done <"$HT/ubcfg"
}

# The -c of the trusted nameds (the argument after the first "-c", as sed '/^-c$/{n;p;q}'),
# checked with that process's rights (_dns_as); without one, named's default config, as root.
# One config is checked for all of them (dns.py judges every named by it), so nameds started
# with different configs (a user can start the system's named with a config of their own,
# "querylog yes;") make it exit 125 and say so: their logging is then unknown, never the
# user's config standing for the system's named.
_dns_named() {
    _dcfg=""
    _dnp=
    _dnn=0
    for _dt in $_dns_found; do
        case $_dt in *:named) ;; *) continue ;; esac
        _dpid=${_dt%%:*}
        _dns_trusted "$_dpid" named || continue
        _dns_args "$_dpid"
        _dprev=""
        _dthis=""
        while IFS= read -r _da || [ -n "$_da" ]; do
            if [ "$_dprev" = "-c" ]; then
                _dthis=$_da
                break
            fi
            _dprev=$_da
        done <"$HT/dnsarg"
        _dnn=$((_dnn + 1))
        if [ "$_dnn" = 1 ]; then
            _dcfg=$_dthis
            _dnp=$_dpid
        elif [ "$_dthis" != "$_dcfg" ]; then
            echo "harden: named processes $_dnp and $_dpid run with different configs (-c); not judging either" >&2
            return 125
        fi
    done
    if [ -n "$_dcfg" ]; then
        _dns_as "$_dnp" named-checkconf -p "$_dcfg"
    else
        _dns_t named-checkconf -p
    fi
}

# The /proc/net tables through one grep (lines "path:line"), split per section by the shell.
# Any trouble (a table missing, grep's stderr) and each section runs its own grep. The TCP
# tables only when the processes piece does not run beside this one (_dns_tcp, set by
# collector.py): dns.py then takes the TCP listeners from processes.tcp and processes.tcp6.
_dns_re='^ *sl|^ *[0-9]+: [0-9A-Fa-f]+:0035 '
if [ "${_dns_tcp:-}" = processes ]; then
    set -- /proc/net/udp /proc/net/udp6
else
    set -- /proc/net/udp /proc/net/udp6 /proc/net/tcp /proc/net/tcp6
fi
_dns_netall=yes
for _dl in "$@"; do [ -r "$_dl" ] || _dns_netall=no; done
if [ "$_dns_netall" = yes ]; then
    _dns_netall=no
    grep -E "$_dns_re" "$@" >"$HT/dnsnet" 2>"$HT/dnsneterr"
    case $? in 0 | 1) [ -s "$HT/dnsneterr" ] || _dns_netall=yes ;; esac
fi
_dns_net() {
    if [ "$_dns_netall" = no ]; then
        grep -E "$_dns_re" "$1"
        return
    fi
    _dnr=1
    while IFS= read -r _dl; do
        case $_dl in
        "$1:"*)
            printf '%s\n' "${_dl#"$1:"}"
            _dnr=0
            ;;
        esac
    done <"$HT/dnsnet"
    return "$_dnr"
}

_dns_scan
_h_run dns.resolv_link _dns_link
_h_file dns.resolv_conf /etc/resolv.conf
_h_file dns.resolved_upstream /run/systemd/resolve/resolv.conf
if _h_has resolvectl; then
    _h_run dns.resolvectl _dns_t resolvectl status --no-pager
else
    _h_cmd dns.resolvectl resolvectl
fi
_h_files dns.resolved_conf /etc/systemd/resolved.conf /etc/systemd/resolved.conf.d/*.conf \
    /run/systemd/resolved.conf.d/*.conf
_h_run dns.procs _dns_procs
_h_cmd dns.addrs ip -o addr show
_h_run dns.udp _dns_net /proc/net/udp
_h_run dns.udp6 _dns_net /proc/net/udp6
if [ "${_dns_tcp:-}" = processes ]; then
    _h_run dns.tcp_from echo processes
else
    _h_run dns.tcp _dns_net /proc/net/tcp
    _h_run dns.tcp6 _dns_net /proc/net/tcp6
fi
_h_run dns.dnsmasq_conf _dns_dnsmasq_conf
if _h_has unbound-checkconf; then
    _h_run dns.unbound _dns_unbound
else
    _h_cmd dns.unbound unbound-checkconf
fi
_h_files dns.unbound_conf /etc/unbound/unbound.conf /etc/unbound/unbound.conf.d/*.conf
if _h_has named-checkconf; then
    _h_run dns.named _dns_named
else
    _h_cmd dns.named named-checkconf
fi
case "$_dns_found " in *":named "*) _dns_named_runs=yes ;; *) _dns_named_runs= ;; esac
if [ -n "$_dns_named_runs" ] && _h_has rndc; then
    _h_run dns.rndc _dns_t rndc status
else
    printf '\n@@%s B dns.rndc\n\n@@%s E dns.rndc 127\n' "$HN" "$HN"
fi
