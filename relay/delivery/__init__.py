"""Delivery: the worker loop that leases due dials and POSTs them to outboundIQ until it has
them, with its policy (backoff, Retry-After), key holds, destination circuit, poster and the
one module (``outcomes``) that settles each attempt. Knows nothing of intake.
"""
