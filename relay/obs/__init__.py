"""Observability: structured logs (masked, secret-free), Prometheus metrics, and the live
event feed (``events``, ``feed``, ``broadcast``, ``sse``)."""
