#!/bin/sh
# Regenerate the real captures of tests/golden/audit (run as root from the repository root).
# Needs: auditd installed on this machine (never started: policy-rc.d), podman and the lab image
# (IMG, default: newest localhost/harden-lab). Nothing is loaded into this machine's kernel.
set -eu
G=tests/golden/audit
EX=/usr/share/doc/auditd/examples/rules
IMG=${IMG:-$(podman images --format '{{.Repository}}:{{.Tag}}' localhost/harden-lab | head -1)}
script() { sh $G/capture.sh audit; }
ctr() {  # ctr NAME PREPARE: run the collector in a throwaway lab container after PREPARE
    script | timeout 120 podman run -i --rm --network none --stop-signal=SIGKILL \
        -v "$EX:/mnt/ex:ro" -v "$PWD/$G:/mnt/g:ro" "$IMG" \
        sh -c "$2 </dev/null >/dev/null 2>&1; exec sh -s" >"$G/$1.out"
}
script | dash -s >$G/host_root.out
script | setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all dash -s >$G/host_nobody.out
ctr ctr_default ':'
ctr ctr_coverage 'cp /mnt/g/harden-coverage.rules /etc/audit/rules.d/50-harden.rules && augenrules'
ctr ctr_coverage_stale 'cp /mnt/g/harden-coverage.rules /etc/audit/rules.d/50-harden.rules'
ctr ctr_examples 'rm /etc/audit/rules.d/audit.rules && cp /mnt/ex/10-base-config.rules /mnt/ex/30-stig.rules /mnt/ex/71-networking.rules /mnt/ex/99-finalize.rules /etc/audit/rules.d/ && augenrules'
ctr ctr_no_audit 'cp /mnt/ex/10-no-audit.rules /mnt/g/harden-coverage.rules /etc/audit/rules.d/ && augenrules'
ctr ctr_purged 'dpkg --purge auditd'
