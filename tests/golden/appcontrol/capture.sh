#!/bin/sh
# Print the collector script for one piece with the fixed nonce "x" used by the golden files:
#   sh tests/golden/appcontrol/capture.sh appcontrol | sh -s > tests/golden/appcontrol/NAME.out
# Run from the repository root. Usage: capture.sh PIECE
F=hardening/facts
printf 'HN=x\n'
cat "$F/header.sh" "$F/$1.sh" "$F/footer.sh"
