"""Module boundaries: `make lint`'s import-linter run fails on a forbidden import."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.app.conftest import APP_DIR, VENV_BIN

VIOLATION = "\nfrom checkout.models import Order  # noqa: E402, F401  (injected by the test)\n"


def _lint_imports(app_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "lint-imports"), "--no-cache"], cwd=app_dir,
                          capture_output=True, text=True, check=False)


def test_app_contracts_hold() -> None:
    result = _lint_imports(APP_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_another_apps_models_breaks_lint(tmp_path: Path) -> None:
    copy = tmp_path / "app_image"
    shutil.copytree(APP_DIR, copy, ignore=shutil.ignore_patterns("staticfiles", "__pycache__"))
    with (copy / "content" / "selectors.py").open("a") as selectors:
        selectors.write(VIOLATION)
    result = _lint_imports(copy)
    assert result.returncode != 0
    assert "content imports no other app's models BROKEN" in result.stdout
    assert "content.selectors -> checkout.models" in result.stdout
