# harden collector: firewall (egress) piece. Read-only: never loads rules into the
# host's network namespace; the persisted nftables file is parsed by nft inside a
# throwaway network namespace (unshare), whose ruleset dies with it.

_h_cmd firewall.nft_version nft --version
_h_cmd firewall.nft_ruleset nft -j list ruleset
# iptables -V says which backend the plain iptables-save is. When it is nf_tables and the
# *-nft-save tool ran (exit other than 127), firewall.py reads only the latter: the plain one,
# the same dump of the same rules (its cost grows with the ruleset), is not run.
_fw_ipt_nft=
_fw_iptv() {
    iptables -V >"$HT/iptv$_hpiece"
    _fwrc=$?
    _h_text_body "$HT/iptv$_hpiece"
    case $_htc in *nf_tables*) [ "$_fwrc" != 0 ] || _fw_ipt_nft=yes ;; esac
    return "$_fwrc"
}
if _h_has iptables; then
    _h_run firewall.iptables_version _fw_iptv
else
    _h_cmd firewall.iptables_version iptables -V
fi
# _fw_saves NFT_SECTION NFT_TOOL PLAIN_SECTION PLAIN_TOOL (_h_run leaves the exit code in _hrc).
_fw_saves() {
    _hrc=127
    _h_cmd "$1" "$2"
    if [ -z "$_fw_ipt_nft" ] || [ "$_hrc" = 127 ]; then
        _h_cmd "$3" "$4"
    fi
}
_fw_saves firewall.iptables_nft_save iptables-nft-save firewall.iptables_save iptables-save
_fw_saves firewall.ip6tables_nft_save ip6tables-nft-save firewall.ip6tables_save ip6tables-save
# Legacy xtables only when its kernel tables exist: reading them must not load modules.
# (/proc files report size 0, so test their content, not -s.)
# _fw_nonempty FILE: FILE has at least one character (read builtin: no process).
_fw_nonempty() {
    _hl=
    IFS= read -r _hl 2>/dev/null <"$1" || [ -n "$_hl" ]
}
# The shell cannot tell an empty file from a read error, so _h_text runs cat on a file it read
# nothing from. Host CPU: when both lists read as empty (the usual case where the modules are
# loaded), one cat reads both: no output, no message and exit 0 mean each cat alone would have
# printed nothing and exited 0. Anything else: _h_text for each, as before.
if [ -e /proc/net/ip_tables_names ] && [ -e /proc/net/ip6_tables_names ] &&
    ! _fw_nonempty /proc/net/ip_tables_names && ! _fw_nonempty /proc/net/ip6_tables_names &&
    cat -- /proc/net/ip_tables_names /proc/net/ip6_tables_names >"$HT/lg$_hpiece" 2>&1 </dev/null &&
    ! [ -s "$HT/lg$_hpiece" ]; then
    printf '\n@@%s B %s\n\n@@%s E %s 0\n' "$HN" firewall.legacy_names "$HN" firewall.legacy_names
    printf '\n@@%s B %s\n\n@@%s E %s 0\n' "$HN" firewall.legacy6_names "$HN" firewall.legacy6_names
else
    _h_text firewall.legacy_names /proc/net/ip_tables_names
    _h_text firewall.legacy6_names /proc/net/ip6_tables_names
fi
if _fw_nonempty /proc/net/ip_tables_names; then
    _h_cmd firewall.iptables_legacy_save iptables-legacy-save
fi
if _fw_nonempty /proc/net/ip6_tables_names; then
    _h_cmd firewall.ip6tables_legacy_save ip6tables-legacy-save
fi

# nf_conntrack.enable_hooks=1 runs connection tracking (and so nat chains) whatever the rules say.
# The parameter is module_param(enable_hooks, bool, 0000): it has no /sys file. It is set on the
# kernel command line or by modprobe options.
_h_text firewall.ct_cmdline /proc/cmdline
_h_files firewall.ct_modprobe /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /usr/local/lib/modprobe.d/*.conf \
    /usr/lib/modprobe.d/*.conf /lib/modprobe.d/*.conf

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
        _hv=
        read -r _hv <"$_hf"
        echo "${_hd##*/} $_hv"
    done
    return 0
}
_h_run firewall.ipv6_disable _h_fw_v6
_h_text firewall.if_inet6 /proc/net/if_inet6
if _h_has ip; then
    _h_run firewall.links ip -o link show
    _h_run firewall.routes4 ip -o -4 route show default
    _h_run firewall.routes6 ip -o -6 route show default
else
    _h_run firewall.links ls /sys/class/net
fi
