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
#   dns.udp .udp6 .tcp .tcp6  /proc/net lines whose local port is 53 (0035)
#   dns.dnsmasq_conf     dnsmasq config files (comments dropped) as "==> path <==" blocks: /etc/dnsmasq.conf,
#                        /etc/dnsmasq.d, -C/-7 of running dnsmasqs, conf-file/conf-dir includes
#   dns.unbound          unbound-checkconf -o per config (running -c configs and the default)
#   dns.unbound_conf     unbound config files (used when unbound-checkconf is missing)
#   dns.named            named-checkconf -p (effective config, includes resolved)
#   dns.rndc             rndc status of a running named (says whether query logging is ON)
_dns_t() {
    if _h_has timeout; then timeout 3 "$@"; else "$@"; fi
}

_dns_link() {
    printf 'link %s\n' "$(readlink /etc/resolv.conf)"
    printf 'real %s\n' "$(readlink -f /etc/resolv.conf)"
}

# _dns_pids COMM...: pids whose comm is one of COMM.
_dns_pids() {
    for _dp in /proc/[0-9]*; do
        read -r _dc 2>/dev/null <"$_dp/comm" || continue
        for _dw in "$@"; do
            if [ "$_dc" = "$_dw" ]; then
                echo "${_dp#/proc/}"
                break
            fi
        done
    done
}

_dns_procs() {
    for _dpid in $(_dns_pids dnsmasq unbound named systemd-resolve systemd-resolved pdns_recursor \
        kresd coredns dnscrypt-proxy stubby cloudflared dnsdist knotd); do
        _dd=/proc/$_dpid
        printf '@proc %s\n' "$_dpid"
        _du=""
        while read -r _dk _dv _drest; do
            [ "$_dk" = "Uid:" ] && _du=$_dv
        done 2>/dev/null <"$_dd/status"
        printf 'uid %s\n' "$_du"
        printf 'comm '
        od -An -v -tx1 2>/dev/null <"$_dd/comm" | tr -d ' \n'
        printf '\ncmdline '
        od -An -v -tx1 2>/dev/null <"$_dd/cmdline" | tr -d ' \n'
        printf '\nsockets '
        ls -l "$_dd/fd/" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | tr -dc '0-9\n' | tr '\n' ' '
        # Listing fd/ is not enough: reading the links needs ptrace access (root with
        # CAP_SYS_PTRACE, or the same uid).
        _dfr=yes
        ls "$_dd/fd/" >/dev/null 2>&1 || _dfr=no
        for _df in "$_dd"/fd/*; do
            [ -e "$_df" ] || [ -L "$_df" ] || continue
            readlink "$_df" >/dev/null 2>&1 || { _dfr=no; break; }
        done
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
    for _dpid in $(_dns_pids dnsmasq); do
        _dns_trusted "$_dpid" dnsmasq || continue
        tr '\0' '\n' 2>/dev/null <"/proc/$_dpid/cmdline" | {
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
            done
        }
    done
}

_dns_dnsmasq_conf() {
    {
        echo /etc/dnsmasq.conf
        echo /etc/dnsmasq.d
        _dns_dm_cmdline_paths
    } >"$HT/dmq"
    : >"$HT/dmseen"
    _dn=0
    while [ -s "$HT/dmq" ] && [ "$_dn" -lt 64 ]; do
        : >"$HT/dmnext"
        while IFS= read -r _df; do
            case $_df in /proc/* | /sys/* | /dev/*) continue ;; /*) ;; *) continue ;; esac
            grep -qxF -- "$_df" "$HT/dmseen" && continue
            echo "$_df" >>"$HT/dmseen"
            _dn=$((_dn + 1))
            [ "$_dn" -gt 64 ] && break
            if [ -d "$_df" ]; then
                for _dg in "$_df"/*; do
                    [ -f "$_dg" ] && echo "$_dg" >>"$HT/dmnext"
                done
            elif [ -f "$_df" ]; then
                printf '==> %s <==\n' "$_df"
                # at most 1 MiB per file: a config is small, a hostile include need not be
                head -c 1048576 <"$_df" | sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d'
                head -c 1048576 <"$_df" | sed -n -e 's/^[[:space:]]*conf-file=\([^,]*\).*/\1/p' \
                    -e 's/^[[:space:]]*conf-dir=\([^,]*\).*/\1/p' >>"$HT/dmnext"
            fi
        done <"$HT/dmq"
        mv "$HT/dmnext" "$HT/dmq"
    done
}

_dns_unbound() {
    {
        for _dpid in $(_dns_pids unbound); do
            _dns_trusted "$_dpid" unbound || continue
            tr '\0' '\n' 2>/dev/null <"/proc/$_dpid/cmdline" | {
                _dprev=""
                while IFS= read -r _da; do
                    [ "$_dprev" = "-c" ] && echo "$_da"
                    _dprev=$_da
                done
            }
        done
        echo /etc/unbound/unbound.conf
    } | sort -u >"$HT/ubcfg"
    while IFS= read -r _dc; do
        [ -f "$_dc" ] || continue
        printf '@config %s\n' "$_dc"
        for _do in log-queries log-replies log-servfail log-tag-queryreply use-syslog logfile verbosity \
            tls-upstream; do
            printf '%s=%s\n' "$_do" "$(_dns_t unbound-checkconf -o "$_do" "$_dc" 2>&1 | tr '\n' ' ')"
        done
    done <"$HT/ubcfg"
}

_dns_named() {
    _dcfg=""
    for _dpid in $(_dns_pids named); do
        _dns_trusted "$_dpid" named || continue
        _dcfg=$(tr '\0' '\n' 2>/dev/null <"/proc/$_dpid/cmdline" | sed -n '/^-c$/{n;p;q}')
        break
    done
    if [ -n "$_dcfg" ]; then
        _dns_t named-checkconf -p "$_dcfg"
    else
        _dns_t named-checkconf -p
    fi
}

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
_h_run dns.udp grep -E '^ *sl|^ *[0-9]+: [0-9A-Fa-f]+:0035 ' /proc/net/udp
_h_run dns.udp6 grep -E '^ *sl|^ *[0-9]+: [0-9A-Fa-f]+:0035 ' /proc/net/udp6
_h_run dns.tcp grep -E '^ *sl|^ *[0-9]+: [0-9A-Fa-f]+:0035 ' /proc/net/tcp
_h_run dns.tcp6 grep -E '^ *sl|^ *[0-9]+: [0-9A-Fa-f]+:0035 ' /proc/net/tcp6
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
if [ -n "$(_dns_pids named)" ] && _h_has rndc; then
    _h_run dns.rndc _dns_t rndc status
else
    printf '\n@@%s B dns.rndc\n\n@@%s E dns.rndc 127\n' "$HN" "$HN"
fi
