"""The environment contract: one list, validated at start-up with one clear error."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.app.conftest import APP_DIR, ENTRYPOINT, run_entrypoint

pytestmark = pytest.mark.services
CONTRACT = json.loads((APP_DIR / "environment.json").read_text())
# Read by the entrypoint but set by the image itself, not by the platform.
IMAGE_INTERNAL = {"DJANGO_SETTINGS_MODULE", "PYTHON", "TMPDIR"}  # TMPDIR: the OS temp dir


def test_contract_entries_have_the_agreed_fields() -> None:
    names = [entry["name"] for entry in CONTRACT]
    assert len(names) == len(set(names))
    for entry in CONTRACT:
        assert {"name", "required", "secret", "description", "example"} <= set(entry), entry
        assert isinstance(entry["required"], bool) and isinstance(entry["secret"], bool)
        assert entry["description"] and entry["example"] is not None


def test_examples_satisfy_the_contract() -> None:
    sys.path.insert(0, str(APP_DIR))
    from config.env import environment_load, example_environment

    values = environment_load(environ=example_environment())
    assert set(values) == {entry["name"] for entry in CONTRACT}


def test_every_variable_the_app_reads_is_in_the_contract() -> None:
    names = {entry["name"] for entry in CONTRACT}
    settings_text = "\n".join(p.read_text() for p in (APP_DIR / "config").rglob("*.py"))
    read_by_settings = set(re.findall(r'ENV\["([A-Z_]+)"\]', settings_text))
    read_by_entrypoint = set(re.findall(r"\$\{([A-Z_]+)", ENTRYPOINT.read_text()))
    assert read_by_settings <= names
    assert read_by_entrypoint - IMAGE_INTERNAL <= names
    direct_reads = re.compile(r"os\.environ\[|os\.environ\.get\(|os\.getenv\(")
    os_reads = [str(p.relative_to(APP_DIR)) for p in APP_DIR.rglob("*.py")
                if p.name != "env.py" and direct_reads.search(p.read_text())]
    assert os_reads == [], "read variables through config.env (the contract), not os.environ"


def test_missing_and_malformed_variables_make_one_clear_error(
    app_env: dict[str, str],
) -> None:
    env = {k: v for k, v in app_env.items() if k not in ("DJANGO_SECRET_KEY", "CACHE_URL")}
    env["DATABASE_URL"] = "mysql://nope"
    env["READ_YOUR_WRITES_SECONDS"] = "soon"
    for args in (["check"], ["web"], ["migrate"]):
        result = run_entrypoint(args, env)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert result.stderr.count("does not satisfy the app's contract") == 1
        for name in ("DJANGO_SECRET_KEY is missing", "CACHE_URL is missing",
                     "DATABASE_URL=<secret> is malformed", "READ_YOUR_WRITES_SECONDS='soon'"):
            assert name in result.stderr, (args, result.stderr)
        assert "mysql://nope" not in result.stderr  # secrets are never echoed


def test_manage_py_prints_the_same_single_error(app_env: dict[str, str]) -> None:
    env = {k: v for k, v in app_env.items() if k != "BROKER_URL"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "BROKER_URL is missing" in result.stderr
