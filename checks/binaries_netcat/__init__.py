"""The binaries_netcat check: metadata in check.yaml, evaluation per platform."""
