#!/bin/sh
# Prepare this machine (Debian 12, as root) to run the harden lab: Debian packages and
# podman's engine configuration; chromium for the HTML report test (headless render);
# dash and busybox, the shells the collector script is tested under (tests/facts/test_collector.py).
# Idempotent and quick when everything is already there.
# Usage: sh hardening/lab/host_setup.sh        (called by `make install`)
set -eu

PKGS="podman runc netavark aardvark-dns debootstrap debian-archive-keyring openssh-client sshpass \
nftables iptables iproute2 util-linux uidmap python3 python3-venv ca-certificates chromium dash busybox"

if [ "$(id -u)" != 0 ]; then
    echo "host_setup.sh: must run as root (the lab uses rootful podman)" >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-upgrade $missing >/dev/null
fi

# crun fails on this kernel setup (cgroup hybrid mode, rlimits above the hard limit):
# runc + cgroupfs + bounded ulimits work (shared/LAB.md).
conf=/etc/containers/containers.conf
want=$(cat <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
if [ "$(cat "$conf" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p /etc/containers
    printf '%s\n' "$want" > "$conf"
    echo "wrote $conf"
fi
