"""The edge contract (edge.json): cookies and methods no edge cache may serve, private paths.

One list, read by the app (cookie names, Cache-Control), the Cloudflare ruleset
(components/edge.py) and the local nginx edge (local/nginx.py), so they cannot drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EDGE_CONTRACT_PATH = Path(__file__).resolve().parent.parent / "edge.json"


def edge_contract_load(*, path: Path = EDGE_CONTRACT_PATH) -> dict[str, Any]:
    """The parsed edge contract."""
    return dict(json.loads(path.read_text()))
