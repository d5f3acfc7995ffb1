#!/bin/sh
# Regenerate the real captures of tests/golden/sensors (run as root from the repository root, with
# the venv in .venv). Needs podman and the lab image (IMG, default: newest localhost/harden-lab).
# The container states copy the hand-written configurations of fixtures/<state>/ into /etc and
# start stand-in processes (copies of sleep) under the sensors' executable paths: the
# collector output is real, the sensors are staged (no sensor runs in a container).
set -eu
G=tests/golden/sensors
IMG=${IMG:-$(podman images --format '{{.Repository}}:{{.Tag}}' localhost/harden-lab | head -1)}
full() { .venv/bin/python -c "from hardening.facts.collector import build_linux_script; print(build_linux_script('x'))"; }
sh $G/capture.sh sensors | dash -s >$G/host_root.out
sh $G/capture.sh processes | dash -s >$G/processes_host_root.out
sh $G/capture.sh processes | setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all dash -s \
    >$G/processes_host_nobody.out
# stage STATE SETUP: run SETUP in a fresh lab container with fixtures/STATE copied over /, then the full collector.
stage() {
    full | timeout 120 podman run -i --rm --network none --stop-signal=SIGKILL --name "harden-i22-cap-$1" \
        -v "$PWD/$G/fixtures:/fx:ro" "$IMG" sh -c "[ -d /fx/$1 ] && cp -r /fx/$1/. /; $2 sleep 1; sh -s"
}
stage ok 'cp /bin/sleep /usr/bin/falco; mkdir -p /usr/local/bin; cp /bin/sleep /usr/local/bin/tetragon;
    /usr/bin/falco 600 & /usr/local/bin/tetragon 600 &' >$G/ctr_ok.out
# (osqueryd's stand-in is dash, so that it keeps osquery's own arguments on its command line)
stage quiet 'cp /bin/sleep /usr/bin/falco; mkdir -p /opt/osquery/bin; cp /bin/dash /opt/osquery/bin/osqueryd;
    /usr/bin/falco 600 & /opt/osquery/bin/osqueryd -c "sleep 600; :" --flagfile=/etc/osquery/osquery.flags &' \
    >$G/ctr_quiet.out
# Look-alikes: a root process named falco outside the system directories, the real path run by nobody.
stage fake 'mkdir -p /tmp/x; cp /bin/sleep /tmp/x/falco; cp /bin/sleep /usr/bin/falco; /tmp/x/falco 600 &
    setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/falco 600 &' >$G/ctr_fake.out
