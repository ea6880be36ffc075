"""The relay's domain, with no HTTP server in it: the Dial and its normalizers, the mapping
protocol and registry, presets, sources built from the config, the mapping pipeline, preview,
backfill and the token bucket. ``relay.sdk`` is its public face for mappings.
"""
