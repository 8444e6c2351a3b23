"""Kibana integration: data views, the incidents dashboard and Agent Builder tools."""

from __future__ import annotations

from qs_tui.kibana.client import KibanaClient, KibanaError
from qs_tui.kibana.objects import KibanaAssetError, data_views, tools
from qs_tui.kibana.setup import remove, setup

__all__ = [
    "KibanaAssetError",
    "KibanaClient",
    "KibanaError",
    "data_views",
    "remove",
    "setup",
    "tools",
]
