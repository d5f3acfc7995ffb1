# harden collector: header. Defines the section helpers every piece uses.
# Runs under any POSIX sh (dash, busybox ash, bash). Reads nothing from the controller
# but this script; prints sections delimited by "@@$HN B name" / "@@$HN E name rc".
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
HT=$(mktemp -d 2>/dev/null || { d=/tmp/harden.$$; mkdir -m 700 "$d" && echo "$d"; })
trap 'rm -rf "$HT"' EXIT HUP INT TERM

# _h_run NAME CMD [ARGS...]: run CMD, capture stdout as section NAME, stderr as NAME!err.
_h_run() {
    _hn=$1
    shift
    printf '\n@@%s B %s\n' "$HN" "$_hn"
    "$@" 2>"$HT/err" </dev/null
    _hrc=$?
    printf '\n@@%s E %s %s\n' "$HN" "$_hn" "$_hrc"
    if [ -s "$HT/err" ]; then
        printf '\n@@%s B %s!err\n' "$HN" "$_hn"
        head -c 65536 "$HT/err"
        printf '\n@@%s E %s!err 0\n' "$HN" "$_hn"
    fi
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

# _h_files NAME GLOB...: every existing file as "==> path <==" blocks (like head/tail).
# Exit 1 when a file could not be read (its block is then empty; stderr says why). A newline
# in a file name is printed as "?" so that a name cannot fake the next block header.
_h_nl='
'
_h_files_body() {
    _hfrc=0
    for _hf in "$@"; do
        [ -f "$_hf" ] || continue
        case $_hf in
        *"$_h_nl"*) printf '==> %s <==\n' "$(printf '%s' "$_hf" | tr '\n' '?')" ;;
        *) printf '==> %s <==\n' "$_hf" ;;
        esac
        cat -- "$_hf" || _hfrc=1
        printf '\n'
    done
    return "$_hfrc"
}
_h_files() {
    _hn=$1
    shift
    _h_run "$_hn" _h_files_body "$@"
}

_h_run meta.id id -u
_h_file meta.os_release /etc/os-release
_h_run meta.uname uname -srm
_h_run meta.hostname hostname

# harden collector: firewall (egress) piece. Read-only: never loads rules into the
# host's network namespace; the persisted nftables file is parsed by nft inside a
# throwaway network namespace (unshare), whose ruleset dies with it.

_h_cmd firewall.nft_version nft --version
_h_cmd firewall.nft_ruleset nft -j list ruleset
_h_cmd firewall.iptables_version iptables -V
_h_cmd firewall.iptables_save iptables-save
_h_cmd firewall.ip6tables_save ip6tables-save
_h_cmd firewall.iptables_nft_save iptables-nft-save
_h_cmd firewall.ip6tables_nft_save ip6tables-nft-save
# Legacy xtables only when its kernel tables exist: reading them must not load modules.
# (/proc files report size 0, so test their content, not -s.)
_h_file firewall.legacy_names /proc/net/ip_tables_names
_h_file firewall.legacy6_names /proc/net/ip6_tables_names
if [ -n "$(cat /proc/net/ip_tables_names 2>/dev/null)" ]; then
    _h_cmd firewall.iptables_legacy_save iptables-legacy-save
fi
if [ -n "$(cat /proc/net/ip6_tables_names 2>/dev/null)" ]; then
    _h_cmd firewall.ip6tables_legacy_save ip6tables-legacy-save
fi

# Persisted configuration, and whether it loads at boot.
_h_file firewall.nft_conf /etc/nftables.conf
_h_file firewall.nft_conf_sysconfig /etc/sysconfig/nftables.conf

_h_fw_persisted() {
    # nft's own parser, in a new network namespace: user namespace first, then plain.
    _hfc=/etc/nftables.conf
    [ -e "$_hfc" ] || _hfc=/etc/sysconfig/nftables.conf
    [ -e "$_hfc" ] || return 127
    _h_has nft || return 126
    _h_has unshare || { echo "harden: unshare not found" >&2; return 125; }
    _hto=
    _h_has timeout && _hto="timeout 10"
    if $_hto unshare -rn sh -c 'nft -f "$1" >/dev/null && nft -j list ruleset' sh "$_hfc" 2>"$HT/un1"; then
        echo "harden: loaded $_hfc with unshare -rn" >&2
        return 0
    fi
    if $_hto unshare -n sh -c 'nft -f "$1" >/dev/null && nft -j list ruleset' sh "$_hfc" 2>"$HT/un2"; then
        echo "harden: loaded $_hfc with unshare -n" >&2
        return 0
    fi
    echo "harden: unshare -rn: $(head -c 400 "$HT/un1" | tr '\n' ' ')" >&2
    echo "harden: unshare -n: $(head -c 400 "$HT/un2" | tr '\n' ' ')" >&2
    return 124
}
_h_run firewall.nft_persisted _h_fw_persisted

_h_fw_enabled() {
    for _hu in nftables netfilter-persistent iptables ip6tables ufw firewalld; do
        for _hw in /etc/systemd/system/*.wants/$_hu.service; do
            [ -e "$_hw" ] && echo "wants $_hu $_hw"
        done
        for _hw in /etc/runlevels/*/$_hu; do
            [ -e "$_hw" ] && echo "rc $_hu $_hw"
        done
        if [ -d /run/systemd/system ] && _h_has systemctl; then
            echo "systemctl $_hu $(systemctl is-enabled "$_hu.service" 2>/dev/null || true)"
            echo "active $_hu $(systemctl is-active "$_hu.service" 2>/dev/null || true)"
        fi
    done
    return 0
}
_h_run firewall.boot _h_fw_enabled

_h_file firewall.rules_v4 /etc/iptables/rules.v4
_h_file firewall.rules_v6 /etc/iptables/rules.v6
_h_file firewall.sysconfig_iptables /etc/sysconfig/iptables
_h_file firewall.sysconfig_ip6tables /etc/sysconfig/ip6tables

_h_file firewall.ufw_conf /etc/ufw/ufw.conf
_h_file firewall.ufw_default /etc/default/ufw
_h_files firewall.ufw_rules /etc/ufw/before.rules /etc/ufw/user.rules /etc/ufw/after.rules \
    /etc/ufw/before6.rules /etc/ufw/user6.rules /etc/ufw/after6.rules

if _h_has firewall-cmd; then
    _h_run firewall.firewalld_state firewall-cmd --state
else
    printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" firewall.firewalld_state "$HN" firewall.firewalld_state
fi
_h_file firewall.firewalld_conf /etc/firewalld/firewalld.conf
_h_files firewall.firewalld_policies /usr/lib/firewalld/policies/*.xml /etc/firewalld/policies/*.xml

# IPv6 state and interfaces.
_h_fw_v6() {
    for _hf in /proc/sys/net/ipv6/conf/*/disable_ipv6; do
        [ -r "$_hf" ] || continue
        _hd=${_hf%/disable_ipv6}
        echo "${_hd##*/} $(cat "$_hf")"
    done
    return 0
}
_h_run firewall.ipv6_disable _h_fw_v6
_h_file firewall.if_inet6 /proc/net/if_inet6
if _h_has ip; then
    _h_run firewall.links ip -o link show
    _h_run firewall.routes4 ip -o -4 route show default
    _h_run firewall.routes6 ip -o -6 route show default
else
    _h_run firewall.links ls /sys/class/net
fi

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

# harden collector: audit piece (auditd). Parsed by hardening/facts/audit.py.
# Read-only: queries the kernel's audit status and rule list, never loads anything.

# audit.bins: "name path" per audit tool, "-" when absent.
_h_audit_bins() {
    for _hb in auditctl auditd augenrules; do
        _hp=$(command -v "$_hb" 2>/dev/null) || _hp=-
        printf '%s %s\n' "$_hb" "$_hp"
    done
}
_h_run audit.bins _h_audit_bins
if _h_has dpkg-query; then
    _h_run audit.pkg dpkg-query -W -f '${Package} ${Version} ${Status}\n' auditd
else
    _h_cmd audit.pkg rpm -q audit
fi

# audit.boot: what starts auditd at boot, whether or not an init system runs here.
_h_audit_boot() {
    if [ -d /run/systemd/system ]; then echo 'systemd running'; fi
    for _hf in /etc/systemd/system/multi-user.target.wants/auditd.service \
        /etc/systemd/system/auditd.service /etc/rc[2345].d/S*auditd /etc/runlevels/*/auditd; do
        if [ -L "$_hf" ]; then
            printf 'link %s -> %s\n' "$_hf" "$(readlink "$_hf")"
        elif [ -e "$_hf" ]; then
            printf 'file %s\n' "$_hf"
        fi
    done
    :
}
_h_run audit.boot _h_audit_boot
if [ -d /run/systemd/system ]; then
    _h_cmd audit.is_enabled systemctl is-enabled auditd.service
    _h_cmd audit.is_active systemctl is-active auditd.service
fi

# audit.procs: "pid comm" of every process named auditd (builtin read: no fork per process).
_h_audit_procs() {
    for _hd in /proc/[0-9]*; do
        _hc=
        read -r _hc 2>/dev/null <"$_hd/comm" || continue
        if [ "$_hc" = auditd ]; then printf '%s %s\n' "${_hd#/proc/}" "$_hc"; fi
    done
    :
}
_h_run audit.procs _h_audit_procs

# audit.env: effective capabilities and container markers (audit needs CAP_AUDIT_CONTROL).
_h_audit_env() {
    while read -r _hk _hv; do
        case $_hk in CapEff:) printf 'CapEff %s\n' "$_hv" ;; esac
    done </proc/$$/status
    for _hf in /run/.containerenv /.dockerenv; do
        if [ -e "$_hf" ]; then printf 'marker %s\n' "$_hf"; fi
    done
    :
}
_h_run audit.env _h_audit_env

_h_cmd audit.status auditctl -s
_h_cmd audit.rules_loaded auditctl -l

# /etc/audit is mode 0750: without root, "missing" and "unreadable" look alike to [ -e ].
# _h_audit_path TEST PATH CMD...: run CMD when PATH passes TEST; rc 2 with a message when
# /etc/audit cannot be searched; rc 127 when PATH does not exist.
_h_audit_path() {
    if [ "$1" "$2" ]; then
        shift 2
        "$@"
    elif [ -d /etc/audit ] && ! [ -x /etc/audit ]; then
        echo "/etc/audit: Permission denied" >&2
        return 2
    else
        return 127
    fi
}
# audit.rules_d_dir: the rules.d listing, in augenrules' order (ls -1v; plain ls where -v is missing).
_h_audit_ls() { ls -1v "$1" 2>/dev/null || ls -1 "$1"; }
_h_run audit.rules_d_dir _h_audit_path -d /etc/audit/rules.d _h_audit_ls /etc/audit/rules.d
_h_files audit.rules_d /etc/audit/rules.d/*.rules
_h_run audit.audit_rules _h_audit_path -e /etc/audit/audit.rules cat /etc/audit/audit.rules
_h_cmd audit.augenrules_check augenrules --check

# harden collector: appcontrol piece (SELinux, AppArmor). Parsed by hardening/facts/appcontrol.py.
# Reads the running state from the kernel (selinuxfs, securityfs, module parameters), then config.

_h_file appcontrol.cmdline /proc/cmdline
_h_file appcontrol.lsm /sys/kernel/security/lsm

# appcontrol.mounts: securityfs/selinuxfs mounts (absent securityfs hides lsm and AppArmor profiles).
_h_ac_mounts() {
    while read -r _hd _hm _ht _hr; do
        case $_ht in securityfs | selinuxfs) printf '%s %s %s\n' "$_hd" "$_hm" "$_ht" ;; esac
    done </proc/self/mounts
    :
}
_h_run appcontrol.mounts _h_ac_mounts
_h_file appcontrol.attr_current /proc/self/attr/current

_h_file appcontrol.selinux_enforce /sys/fs/selinux/enforce
_h_file appcontrol.selinux_config /etc/selinux/config
_h_cmd appcontrol.getenforce getenforce

_h_file appcontrol.apparmor_enabled /sys/module/apparmor/parameters/enabled
_h_file appcontrol.apparmor_profiles /sys/kernel/security/apparmor/profiles
if [ -d /sys/module/apparmor ]; then
    _h_cmd appcontrol.aa_status aa-status --json
fi

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

# harden collector: footer. Its marker tells the controller the run completed.
printf '\n@@%s B __done__\n\n@@%s E __done__ 0\n' "$HN" "$HN"

