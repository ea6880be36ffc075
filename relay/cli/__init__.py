"""The ``relay`` command (``relay.cli:main``): serve, check, preview and the operator tools."""

from relay.cli.main import main

__all__ = ["main"]
