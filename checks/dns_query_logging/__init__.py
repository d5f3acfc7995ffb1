"""The dns_query_logging check: metadata in check.yaml, evaluation per platform."""
