#!/bin/sh
# Real firewalld (1.3.3, nftables backend) with a HOST->ANY egress policy, run as root in a
# private net+mount namespace: /etc/firewalld is a bind-mounted copy, /run a tmpfs, and a
# private system dbus-daemon is started for it and killed (by its pid) at the end.
# Usage (from this directory): unshare -mn sh gen-firewalld.sh
set -e
OUT=$(pwd)
W=$(mktemp -d)
cp -a /etc/firewalld/. "$W/"
mount --bind "$W" /etc/firewalld
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus
ip link set lo up
ip link add eth0 type veth peer name eth1; ip link set eth0 up; ip link set eth1 up
P=egress-deny
firewall-offline-cmd --new-policy=$P >/dev/null
firewall-offline-cmd --policy=$P --add-ingress-zone=HOST >/dev/null
firewall-offline-cmd --policy=$P --add-egress-zone=ANY >/dev/null
firewall-offline-cmd --policy=$P --set-target=REJECT >/dev/null
firewall-offline-cmd --policy=$P --add-rich-rule='rule family="ipv4" destination address="198.18.0.0/24" port port="443" protocol="tcp" accept' >/dev/null
firewall-offline-cmd --policy=$P --add-rich-rule='rule family="ipv6" destination address="2001:db8:1::/48" port port="443" protocol="tcp" accept' >/dev/null
cp /etc/firewalld/policies/$P.xml "$OUT/$P.xml"
DBUS=$(dbus-daemon --system --fork --nopidfile --print-pid)
timeout 40 firewalld --nofork --nopid >/dev/null 2>&1 &
FWD=$!
for i in $(seq 1 30); do firewall-cmd --state >/dev/null 2>&1 && break; sleep 1; done
firewall-cmd --state > "$OUT/state.txt"
nft -j list ruleset > "$OUT/firewalld.nft.json"
kill "$FWD" 2>/dev/null || true
kill "$DBUS" 2>/dev/null || true
wait 2>/dev/null || true
