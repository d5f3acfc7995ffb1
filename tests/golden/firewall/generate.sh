#!/bin/sh
# Regenerate the firewall goldens from REAL nft/iptables/ufw output. Run as root on a
# Debian 12 machine from tests/golden/firewall. Every ruleset is loaded in a throwaway
# network namespace (unshare -n / -rn); nothing touches the machine's own netns, and
# file changes (ufw, bind-mounted configs) happen in a private mount namespace.
set -eu
G=$(pwd)
R=$G/rules
mkdir -p nft xt collector
{
    nft --version; iptables -V; iptables-legacy -V; ufw version | head -1
    firewall-offline-cmd --version 2>/dev/null | sed 's/^/firewalld /'; uname -sr; head -1 /etc/debian_version
} > versions.txt

# 1. nft JSON of each ruleset, nft's own output after loading it (user+net namespace)
for f in "$R"/*.nft; do
    n=$(basename "$f" .nft)
    unshare -rn sh -c 'nft -f "$1" && nft -j list ruleset' sh "$f" > "nft/$n.json"
done

# 2. iptables-nft: rules restored with iptables-nft-restore; both save views + nft's JSON view
unshare -n sh -c '
    iptables-nft-restore < "$1/xt_nft.v4"; ip6tables-nft-restore < "$1/xt_nft.v6"
    iptables-nft-save > "$2/xt/nft-backend.iptables-nft-save"
    ip6tables-nft-save > "$2/xt/nft-backend.ip6tables-nft-save"
    nft -j list ruleset > "$2/xt/nft-backend.nft.json"' sh "$R" "$G"
# 3. iptables-legacy (in-kernel xtables, separate from nftables)
unshare -n sh -c '
    iptables-legacy-restore < "$1/xt_legacy.v4"
    iptables-legacy-save > "$2/xt/legacy.iptables-legacy-save"
    ip6tables-legacy-save > "$2/xt/legacy.ip6tables-legacy-save"' sh "$R" "$G"

# 3b. adversarial iptables rulesets (rules/adv_xt_*.v4), each restored alone with iptables-nft
for f in "$R"/adv_xt_*.v4; do
    n=$(basename "$f" .v4)
    unshare -n sh -c 'iptables-nft-restore < "$1" && iptables-nft-save' sh "$f" > "xt/$n.iptables-nft-save"
done
# 3c. iptables-nft table with a native nft rule inserted: iptables-nft-save calls it incompatible
for v in "new:ct state new accept" "invalid:ct state invalid drop"; do
    unshare -n sh -c 'iptables-nft-restore < "$1/xt_nft.v4" && nft insert rule ip filter OUTPUT $3 &&
        iptables-nft-save > "$2/xt/adv_incompatible_$4.iptables-nft-save" &&
        nft -j list ruleset > "$2/xt/adv_incompatible_$4.nft.json"' sh "$R" "$G" "${v#*:}" "${v%%:*}"
done

# 4. the collector piece for real (dash), in a net+mount namespace with a veth "eth0"
SCRIPT=$(mktemp)
"$G/../../../.venv/bin/python" -c 'from hardening.facts.collector import build_linux_script as b; print(b("golden0", ("firewall",)), end="")' > "$SCRIPT"
collect() {  # NAME SETUP-SHELL-CODE
    unshare -mn sh -c '
        set -e
        ip link set lo up
        ip link add eth0 type veth peer name eth1; ip link set eth0 up; ip link set eth1 up
        ip addr add 198.18.0.250/24 dev eth0; ip route add default via 198.18.0.1 dev eth0
        mount -t tmpfs tmpfs /run
        '"$2"'
        dash -s < "$1"' sh "$SCRIPT" > "collector/$1.out"
}
WANTS=$(mktemp -d)
ln -s /lib/systemd/system/nftables.service "$WANTS/nftables.service"
# bind a copy of multi-user.target.wants with nftables.service added (the host's is untouched)
ENABLE_NFT='cp -a /etc/systemd/system/multi-user.target.wants/. '"$WANTS"'/; mount --bind '"$WANTS"' /etc/systemd/system/multi-user.target.wants'
collect allowlist_persisted "nft -f $R/inet_allowlist.nft; mount --bind $R/inet_allowlist.nft /etc/nftables.conf; $ENABLE_NFT"
collect allowlist_not_persisted "nft -f $R/inet_allowlist.nft"
collect ct_new_running "nft -f $R/ct_new_trap.nft; mount --bind $R/inet_allowlist.nft /etc/nftables.conf; $ENABLE_NFT"
collect mixed_legacy "nft -f $R/mixed.nft; iptables-legacy-restore < $R/mixed_legacy.v4; ip6tables-legacy-restore < $R/mixed_legacy.v6; mount --bind $R/mixed.nft /etc/nftables.conf; $ENABLE_NFT"
collect xt_nft "iptables-nft-restore < $R/xt_nft.v4; ip6tables-nft-restore < $R/xt_nft.v6"
collect empty ":"
# ufw: its own iptables-restore of its files, in the namespace; config files bind-mounted
for p in deny allow; do
    collect "ufw_$p" "mkdir -p /tmp/ufwg; cp -a /etc/ufw /tmp/ufwg/etc-ufw; cp /etc/default/ufw /tmp/ufwg/default-ufw
        mount --bind /tmp/ufwg/etc-ufw /etc/ufw; mount --bind /tmp/ufwg/default-ufw /etc/default/ufw
        ufw default $p outgoing >/dev/null; ufw allow out to 198.18.0.0/24 port 443 proto tcp >/dev/null
        ufw allow out to 2001:db8:1::/48 port 443 proto tcp >/dev/null; ufw allow out 53/udp >/dev/null
        ufw --force enable >/dev/null"
done
# non-root: the same piece as nobody
unshare -n sh -c 'setpriv --reuid=65534 --regid=65534 --clear-groups dash -s < "$1"' sh "$SCRIPT" > collector/nonroot.out
rm -rf "$SCRIPT" "$WANTS"
