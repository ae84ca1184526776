"""The app's edge contract (app_image/edge.json), as the kit reads it. Imports no Pulumi.

The file lists the cookies and methods no edge cache may serve and the paths the public never
reaches; the Cloudflare rulesets (components/edge.py) and the local nginx edge (local/nginx.py)
are both generated from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EDGE_CONTRACT_PATH = Path(__file__).resolve().parents[1] / "app_image" / "edge.json"


@dataclass(frozen=True)
class EdgeContract:
    """What every edge in front of the app must honour."""

    bypass_cookies: tuple[str, ...]
    """A request carrying any of these cookies is personal: never served from an edge cache."""
    cacheable_methods: tuple[str, ...]
    """Only these methods may be served from an edge cache; every other bypasses it."""
    private_paths: tuple[str, ...]
    """Paths the edge never serves to the public (the deep health report)."""


def edge_contract_load(path: Path = EDGE_CONTRACT_PATH) -> EdgeContract:
    """Read the contract file."""
    data = json.loads(path.read_text())
    return EdgeContract(
        bypass_cookies=tuple(data["bypass_cookies"].values()),
        cacheable_methods=tuple(data["cacheable_methods"]),
        private_paths=tuple(data["private_paths"]),
    )


EDGE_CONTRACT = edge_contract_load()
