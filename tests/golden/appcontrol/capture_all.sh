#!/bin/sh
# Regenerate the real captures of tests/golden/appcontrol (run as root from the repository root).
# Needs selinux-utils + policycoreutils installed (getenforce; /etc/selinux/config as Debian ships
# it), podman and the lab image (IMG, default: newest localhost/harden-lab).
set -eu
G=tests/golden/appcontrol
IMG=${IMG:-$(podman images --format '{{.Repository}}:{{.Tag}}' localhost/harden-lab | head -1)}
script() { sh $G/capture.sh appcontrol; }
script | dash -s >$G/host_root.out
script | setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all dash -s >$G/host_nobody.out
# securityfs is not mounted on this VM (no systemd); mount it in a throwaway mount namespace.
script | unshare -m --propagation private sh -c \
    'mount -t securityfs securityfs /sys/kernel/security && exec dash -s' >$G/host_securityfs.out
script | timeout 120 podman run -i --rm --network none --stop-signal=SIGKILL "$IMG" sh -s >$G/ctr_default.out
