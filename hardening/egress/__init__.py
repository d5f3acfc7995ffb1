"""Egress judgement: what the loaded (and persisted) packet filter rules really admit."""
