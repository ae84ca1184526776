"""One edge contract (app_image/edge.json) drives both edges: the Cloudflare rulesets and the
local nginx edge are derived from it here, from the shipped file and from a changed copy, so
the two cannot drift apart (and the app's own cookie names are the same list)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.edge import cache_rules, private_path_rules
from components.edge_contract import EDGE_CONTRACT_PATH, edge_contract_load
from local import nginx
from local.topology import Topology

SHIPPED = json.loads(EDGE_CONTRACT_PATH.read_text())


def _nginx(tmp_path: Path) -> str:
    return nginx.nginx_config(Topology(state_dir=tmp_path / "state"))


def _nginx_cookies(config: str) -> set[str]:
    match = re.search(r'"~\(\^\|;\\s\*\)\(([^)]*)\)="', config)
    assert match, "no bypass-cookie map in the nginx config"
    return {name.replace("\\", "") for name in match.group(1).split("|")}


def _cloudflare_cookies(rules: list[dict]) -> set[str]:
    bypass = next(r for r in rules if r["action_parameters"] == {"cache": False})
    return set(re.findall(r'http\.cookie contains "([^"=]+)="', bypass["expression"]))


def _cloudflare_methods(rules: list[dict]) -> set[str]:
    match = re.search(r"http\.request\.method in \{([^}]*)\}", rules[0]["expression"])
    assert match
    return set(re.findall(r'"([^"]+)"', match.group(1)))


def _nginx_private(config: str) -> set[str]:
    return set(re.findall(r"location = (\S+?)/? \{ return 404; \}", config))


def _cloudflare_private(contract) -> set[str]:
    (rule,) = private_path_rules(contract)
    return {p.rstrip("/") for p in re.findall(r'"([^"]+)"', rule["expression"])}


@pytest.fixture(params=["shipped", "changed"])
def contract_file(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The shipped contract, and a copy with one more cookie, method and private path."""
    data = json.loads(json.dumps(SHIPPED))
    if request.param == "changed":
        data["bypass_cookies"]["preview"] = "q_preview"
        data["cacheable_methods"].append("OPTIONS")
        data["private_paths"].append("/metrics")
    path = tmp_path / "edge.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(nginx, "EDGE_CONTRACT", path)
    return {"path": path, "data": data}


def test_both_edges_bypass_exactly_the_contracts_cookies_and_methods(
    contract_file: dict, tmp_path: Path
) -> None:
    data = contract_file["data"]
    contract = edge_contract_load(contract_file["path"])
    rules = cache_rules(contract, "/static/")
    config = _nginx(tmp_path)
    cookies = set(data["bypass_cookies"].values())
    assert _cloudflare_cookies(rules) == cookies
    assert _nginx_cookies(config) == cookies
    methods = set(data["cacheable_methods"])
    assert _cloudflare_methods(rules) == methods
    assert f"proxy_cache_methods {' '.join(data['cacheable_methods'])};" in config


def test_both_edges_block_exactly_the_contracts_private_paths(
    contract_file: dict, tmp_path: Path
) -> None:
    contract = edge_contract_load(contract_file["path"])
    paths = set(contract_file["data"]["private_paths"])
    assert _cloudflare_private(contract) == paths
    assert _nginx_private(_nginx(tmp_path)) == paths


def test_the_read_your_writes_and_session_cookies_are_in_the_list() -> None:
    # The app reads its cookie names from the same file (config/settings/base.py).
    assert SHIPPED["bypass_cookies"] == {"session": "sessionid", "read_your_writes": "q_rw"}
    settings_text = (EDGE_CONTRACT_PATH.parent / "config" / "settings" / "base.py").read_text()
    assert 'EDGE["bypass_cookies"]["session"]' in settings_text
    assert 'EDGE["bypass_cookies"]["read_your_writes"]' in settings_text
