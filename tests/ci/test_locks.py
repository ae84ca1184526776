"""Hash-locked dependency sets: current against their inputs, installed only with hash checks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import lock  # noqa: E402  (scripts/ is not a package)

FILES = ("requirements/dev.txt", "requirements/kit.txt", "policies/requirements.txt",
         "app_image/requirements.txt", "requirements/dev.lock", "requirements/kit.lock",
         "app_image/requirements.lock")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _block(lock_text: str, package: str) -> str:
    """One package's lines of a lock (its pin and its hashes)."""
    match = re.search(rf"^{package}==\S+ \\\n(?:\s+--hash=sha256:[0-9a-f]+(?: \\)?\n)+",
                      lock_text, re.MULTILINE)
    assert match, package
    return match[0]


def test_every_lock_is_current_and_hashed():
    assert lock.stale_reasons(ROOT) == []


def test_a_moved_pin_makes_the_locks_stale(project):
    app = project / "app_image/requirements.txt"
    version = re.search(r"^Django==(\S+)", app.read_text(), re.MULTILINE)[1]
    app.write_text(app.read_text().replace(f"Django=={version}", "Django==5.2.999"))
    reasons = lock.stale_reasons(project)
    assert (f"app_image/requirements.lock is stale: app_image/requirements.txt pins "
            f"django==5.2.999, the lock has {version}: run `make lock`") in reasons
    assert any(r.startswith("requirements/dev.lock is stale: app_image/") for r in reasons)


def test_a_dropped_input_leaves_the_lock_stale(project):
    app = project / "app_image/requirements.txt"
    app.write_text(re.sub(r"^whitenoise==\S+\n", "", app.read_text(), flags=re.MULTILINE))
    assert ("app_image/requirements.lock is stale: it still locks whitenoise, which no input "
            "asks for: run `make lock`") in lock.stale_reasons(project)


def test_locks_that_disagree_on_a_version_are_refused(project):
    app = project / "app_image/requirements.lock"
    app.write_text(re.sub(r"^vine==\S+", "vine==0.0.1", app.read_text(), flags=re.MULTILINE))
    assert any("app_image/requirements.lock locks vine==0.0.1 but requirements/dev.lock" in r
               for r in lock.stale_reasons(project))


def test_a_lock_without_hashes_is_refused(project):
    kit = project / "requirements/kit.lock"
    kit.write_text(re.sub(r" \\\n\s+--hash=sha256:[0-9a-f]+", "", kit.read_text()))
    assert ("requirements/kit.lock: every package needs its hashes: run `make lock`"
            in lock.stale_reasons(project))


def _pip_download(requirements: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "--only-binary=:all:", "-d", str(dest), "-r", str(requirements)],
        capture_output=True, text=True, timeout=300, check=False)


def test_a_tampered_hash_fails_the_install_with_pips_message(tmp_path):
    block = _block((ROOT / "app_image/requirements.lock").read_text(), "vine")
    good = tmp_path / "good.lock"
    good.write_text(block)
    assert _pip_download(good, tmp_path / "ok").returncode == 0
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", block))
    failed = _pip_download(tampered, tmp_path / "bad")
    assert failed.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in failed.stderr


def test_the_image_installs_only_its_lock_with_hashes_from_a_base_image_by_digest():
    dockerfile = (ROOT / "app_image/Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert re.search(r"pip install [^\n]*--require-hashes[^\n]*--no-deps", dockerfile)
    assert "requirements.txt" not in dockerfile
    assert re.search(r"^ARG BASE_IMAGE=python:\S+$", dockerfile, re.MULTILINE)
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages and all(s == "${BASE_IMAGE}" for s in stages), stages


def test_the_sbom_lists_what_the_lock_installs_with_its_licence(tmp_path):
    block = _block((ROOT / "app_image/requirements.lock").read_text(), "vine")
    small = tmp_path / "one.lock"
    small.write_text(block)
    out = tmp_path / "sbom"
    done = subprocess.run([sys.executable, str(ROOT / "scripts/sbom.py"), "--lock", str(small),
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    sbom = json.loads((out / "app-image.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    names = {c["name"] for c in sbom["components"]}
    assert "vine" in names
    assert "| vine |" in (out / "licenses.md").read_text()
