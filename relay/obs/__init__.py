"""Observability: structured logs (masked, secret-free) and Prometheus metrics."""
