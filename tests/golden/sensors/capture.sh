#!/bin/sh
# Print the collector script for one piece with the fixed nonce "x" used by the golden files:
#   sh tests/golden/sensors/capture.sh sensors | sh -s > tests/golden/sensors/NAME.out
# Run from the repository root. Usage: capture.sh PIECE
F=hardening/facts
printf 'HN=x\n'
cat "$F/header.sh" "$F/$1.sh" "$F/footer.sh"
