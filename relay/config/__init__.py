"""Settings and the sources file: read, interpolated and validated; nothing is built here.

Below ``relay.core`` (it knows no mapping), above ``relay.obs``. docs/architecture.md.
"""
