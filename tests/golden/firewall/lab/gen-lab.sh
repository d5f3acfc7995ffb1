#!/bin/sh
# Run the firewall collector piece for real under dash in a throwaway lab container
# (podman, --network none, NET_ADMIN only). setup-rules.sh loads a running ruleset, writes
# /etc/nftables.conf and enables nftables.service (inside the container only).
# Usage (from tests/golden/firewall): sh lab/gen-lab.sh localhost/harden-lab:TAG
set -eu
IMG=$1
PIECE=$(mktemp)
../../../.venv/bin/python -c 'from hardening.facts.collector import build_linux_script as b; print(b("lab0", ("firewall",)), end="")' > "$PIECE"
run() { timeout 60 podman run --rm -i --network none --cap-add NET_ADMIN --stop-signal=SIGKILL "$IMG" dash -s; }
{ cat lab/setup-rules.sh; cat "$PIECE"; } | run > collector/lab_container.out
# the same with unshare failing (replaced inside the container) to prove the graceful path
{ cat lab/setup-rules.sh
  printf '%s\n' 'printf "#!/bin/sh\necho \"unshare: unshare failed: Operation not permitted\" >&2\nexit 1\n" > /usr/bin/unshare'
  cat "$PIECE"; } | run > collector/lab_no_unshare.out
rm -f "$PIECE"
