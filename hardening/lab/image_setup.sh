#!/bin/sh
# Finish a debootstrapped lab root file system. Runs on the build machine with the
# root file system's path as $1 (nothing here runs inside a container).
set -eu
R=$1

# .debs a remediation may install offline later (containers have no mirror).
mkdir -p "$R/var/cache/harden/debs"
for p in auditd libauparse0 dnsmasq dnsmasq-base nftables libnftables1 netcat-openbsd rsyslog libestr0 \
    libfastjson4 liblognorm5; do
    for f in "$R"/var/cache/apt/archives/"${p}"_*.deb; do
        [ -e "$f" ] && cp "$f" "$R/var/cache/harden/debs/"
    done
done

# Every container makes its own host keys at start.
rm -f "$R"/etc/ssh/ssh_host_*
mkdir -p "$R/run/sshd"
# No mirror inside: empty apt lists and sources so nothing tries to reach one.
rm -rf "$R"/var/lib/apt/lists/*
: > "$R/etc/apt/sources.list"
# Policy: services are started by the lab entrypoint, never by package scripts.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
