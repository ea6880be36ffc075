"""Genesys Cloud mappings: ``genesys`` (EventBridge detail events resolved through Genesys'
API) and ``genesys-data-action`` (a Web Services Data Action's flat JSON). See
docs/vendors/genesys.md."""

from __future__ import annotations

from mappings.genesys.data_action import GenesysDataActionMapping
from mappings.genesys.eventbridge import GenesysMapping

__all__ = ["GenesysDataActionMapping", "GenesysMapping"]
