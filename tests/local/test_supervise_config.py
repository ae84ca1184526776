"""supervisord starts each data service as its user, in a dir that user can enter."""

from __future__ import annotations

import configparser
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import cli
from local.dataservices import SERVICES
from local.supervise import supervisor_config
from local.topology import ROOT, Topology


@pytest.fixture
def private_topology() -> Iterator[Topology]:
    """A topology whose state dir sits in a dir only its owner may enter (a 0700 clone)."""
    with tempfile.TemporaryDirectory(prefix="quintet-private-") as parent:
        Path(parent).chmod(0o700)
        yield Topology(state_dir=Path(parent) / "q" / ".local")


def _programs(topology: Topology) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(supervisor_config(topology))
    return config


def test_data_services_start_in_their_service_home_as_their_user(
    private_topology: Topology,
) -> None:
    services = private_topology.dataservices()
    programs = _programs(private_topology)
    for name in SERVICES:
        section = programs[f"program:{name}"]
        assert Path(section["directory"]) == services.home / name, name
        assert section.get("user") == services.os_user(name), name
    # The app's processes start in the clone, as the invoking user.
    assert programs["program:web-1"]["directory"] == str(ROOT)
    assert "user" not in programs["program:web-1"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the service home is apart only when root runs it")
def test_reset_wipes_the_service_home_too(private_topology: Topology) -> None:
    services = private_topology.dataservices()
    services.prepare()
    assert services.home.is_dir() and services.home != private_topology.data_dir
    assert cli.reset(private_topology) == 0
    assert not services.home.exists()
