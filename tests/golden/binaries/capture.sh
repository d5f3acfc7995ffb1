#!/bin/bash
# Capture real collector output for the binaries goldens (see README.md). Run as root on a
# Debian 12 (merged /usr) machine with netcat-openbsd, netcat-traditional, ncat, socat and
# busybox installed. Each scenario runs in a throwaway mount+pid namespace
# (unshare -m -p -f --mount-proc) with overlays over /usr and /etc and tmpfs over /tmp,
# /var/tmp, /dev/shm and /home: files are removed or dropped there only, and vanish with
# the namespace. Nothing is executed from the dropped copies (the collector refuses to).
# Usage: capture.sh SCENARIO...   (default: all). Writes SCENARIO.dash.txt/.busybox.txt here.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
FACTS=$(cd "$HERE/../../../hardening/facts" && pwd)
COLLECTOR=$(mktemp /run/harden-bin-collector.XXXXXX)
cat "$FACTS/header.sh" "$FACTS/binaries.sh" "$FACTS/footer.sh" >"$COLLECTOR"
trap 'rm -f "$COLLECTOR"' EXIT

inner() {  # runs inside the namespace: $1 scenario, $2 scratch directory
    set -eu
    sc=$1
    ov=$2   # an empty directory on the host, made and removed by the caller
    mount -t tmpfs tmpfs "$ov"
    mkdir -p "$ov/bb" "$ov/usr/up" "$ov/usr/wk" "$ov/etc/up" "$ov/etc/wk"
    cp /usr/bin/busybox "$ov/bb/busybox"   # the shell for the busybox run, outside the searched places
    mkdir -p "$ov/keep"
    for f in nc.openbsd nc.traditional ncat socat busybox; do cp -p "/usr/bin/$f" "$ov/keep/$f"; done
    mount -t overlay overlay -o "lowerdir=/usr,upperdir=$ov/usr/up,workdir=$ov/usr/wk" /usr
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ov/etc/up,workdir=$ov/etc/wk" /etc
    for d in /tmp /var/tmp /dev/shm /home /root; do mount -t tmpfs tmpfs "$d"; done
    rmall() { for f in "$@"; do rm -f "/usr/bin/$f"; done; }
    case $sc in
    host_all) ;;
    none) rmall nc netcat nc.openbsd nc.traditional ncat socat busybox ;;
    openbsd_only) rmall nc.traditional ncat socat busybox ;;
    traditional_only)
        rmall nc.openbsd ncat socat busybox
        ln -sfn /bin/nc.traditional /etc/alternatives/nc
        ln -sfn /bin/nc.traditional /etc/alternatives/netcat ;;
    busybox_only) rmall nc netcat nc.openbsd nc.traditional ncat socat ;;
    dropped)
        rmall nc netcat nc.openbsd nc.traditional ncat socat busybox
        cp -p "$ov/keep/socat" /usr/local/bin/socat
        cp -p "$ov/keep/nc.traditional" /tmp/nc
        ln -s /tmp/nc /usr/local/bin/nc
        mkdir -p "/tmp/.x
	evil" /home/alice/.local/bin
        cp -p "$ov/keep/nc.traditional" "/tmp/.x
	evil/nc"
        cp -p "$ov/keep/ncat" /dev/shm/ncat
        cp -p "$ov/keep/busybox" /home/alice/.local/bin/busybox
        chown -R 1000:1000 /home/alice ;;
    links)
        # Symlink attacks by an unprivileged user (uid 1000): links named like netcats that
        # point at other packages' programs, in places users write. Plus a root-made link in
        # /usr/local/bin into netcat-openbsd, and a root-only directory reached through a
        # user's directory (/usr/local/lib/x -> /home/alice/bin).
        mkdir -p /tmp/x /home/alice/bin /dev/shm/d
        ln -s /usr/bin/ssh /tmp/x/nc
        ln -s /usr/bin/python3 /home/alice/ncat
        ln -s /bin/ls /dev/shm/d/socat
        ln -s /bin/nc.openbsd /tmp/netcat
        ln -s /bin/nc.openbsd /usr/local/bin/nc
        cp -p "$ov/keep/socat" /home/alice/bin/socat
        chown -R 1000:1000 /tmp/x /home/alice /dev/shm/d
        chown -h 1000:1000 /tmp/x/nc /home/alice/ncat /dev/shm/d/socat /tmp/netcat ;;
    *) echo "unknown scenario $sc" >&2; return 2 ;;
    esac
    (cd / && HN=x dash "$COLLECTOR") >"$HERE/$sc.dash.txt" 2>"$HERE/$sc.dash.stderr" || true
    (cd / && HN=x "$ov/bb/busybox" sh "$COLLECTOR") >"$HERE/$sc.busybox.txt" 2>/dev/null || true
    [ -s "$HERE/$sc.dash.stderr" ] || rm -f "$HERE/$sc.dash.stderr"
}

scenarios=${*:-"host_all none openbsd_only traditional_only busybox_only dropped links"}
export HERE COLLECTOR
for sc in $scenarios; do
    echo "== $sc"
    ov=$(mktemp -d /run/harden-ov.XXXXXX)
    timeout 60 unshare -m -p -f --mount-proc --propagation private bash -c "$(declare -f inner); inner $sc $ov" || true
    rmdir "$ov"
done
