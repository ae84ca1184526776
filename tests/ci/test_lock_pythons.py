"""The dev lock installs on every Python the README names, not only the one that compiled it."""

from __future__ import annotations

import re
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[2] / "requirements" / "dev.lock"
PYTHONS = {
    "Debian 12": "3.11.2",
    "Ubuntu 24.04": "3.12.3",
    "Debian 13": "3.13.5",
}
"""The system python3 of each system the README says is known to work."""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_a_supported_python_needs_is_locked() -> None:
    # pip-compile resolves for the interpreter it runs on: a dependency behind a marker such as
    # python_full_version < '3.11.3' is left out, and --require-hashes then refuses to install.
    locked = {_normal(n) for n in re.findall(r"^([A-Za-z0-9_.\-]+)==", LOCK.read_text(), re.M)}
    missing = []
    for dist in distributions():  # this venv is the dev lock, installed
        if _normal(dist.metadata["Name"]) not in locked:
            continue
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or "extra" in str(requirement.marker):
                continue
            for system, version in PYTHONS.items():
                env = {"python_full_version": version,
                       "python_version": ".".join(version.split(".")[:2])}
                if requirement.marker.evaluate(env) and _normal(requirement.name) not in locked:
                    missing.append(f"{dist.metadata['Name']} needs {line} on {system}")
    assert not missing, missing
