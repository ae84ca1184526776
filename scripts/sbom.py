"""``make sbom``: a CycloneDX SBOM of the app image's Python set, and the licence list of it.

It installs the app image's lock exactly as the image build does (a venv without pip of its own,
filled by ``pip --python <venv> install --require-hashes --only-binary=:all:``) into a throwaway
venv, so the venv holds the lock and nothing else, then describes that venv: cyclonedx-py
(cyclonedx-bom) writes ``build/sbom/app-image.cdx.json``, and the licence of every installed
distribution (its License-Expression, License or classifiers) goes to
``build/sbom/licenses.md``. The deploy workflow runs the same script and keeps both beside the
image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "app_image" / "requirements.lock"
OUT = ROOT / "build" / "sbom"

LICENSES = r"""
import importlib.metadata as m, json
rows = []
for d in m.distributions():
    meta = d.metadata
    text = meta.get("License-Expression") or ""
    if not text:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                       if c.startswith("License ::")]
        text = "; ".join(classifiers)
    if not text:
        declared = (meta.get("License") or "").strip().splitlines()
        text = declared[0][:80] if declared else ""
    rows.append((meta["Name"], d.version, text.strip() or "UNKNOWN"))
print(json.dumps(sorted(set(rows), key=lambda r: r[0].lower())))
"""


def install_lock(lock: Path, target: Path) -> Path:
    """A venv holding exactly ``lock``, installed with hash checking; returns its python."""
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", "--require-hashes", "--only-binary=:all:",
         "-r", str(lock)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:  # pip's own message (a hash mismatch names the package)
        raise SystemExit(f"quintet: installing {lock.name} failed:\n{done.stderr.strip()}")
    return python


def licenses(python: Path) -> list[tuple[str, str, str]]:
    """(name, version, licence) of every distribution in the venv of ``python``."""
    out = subprocess.run([str(python), "-c", LICENSES], capture_output=True, text=True,
                         check=True).stdout
    return [tuple(r) for r in json.loads(out)]


def write_sbom(python: Path, out: Path) -> Path:
    """CycloneDX JSON of the venv of ``python`` (reproducible: no timestamp, no serial)."""
    path = out / "app-image.cdx.json"
    subprocess.run([sys.executable, "-m", "cyclonedx_py", "environment", "--output-reproducible",
                    "--of", "JSON", "-o", str(path), str(python)], check=True)
    return path


def write_licenses(rows: list[tuple[str, str, str]], out: Path) -> Path:
    """The licence list as a Markdown table."""
    path = out / "licenses.md"
    lines = ["# Licences of the app image's Python set", "",
             "| package | version | licence |", "|---|---|---|"]
    lines += [f"| {name} | {version} | {text} |" for name, version, text in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    """Build the SBOM and the licence list of ``--lock`` (default: the app image's lock)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quintet-sbom-") as tmp:
        python = install_lock(args.lock, Path(tmp) / "venv")
        sbom = write_sbom(python, args.out)
        rows = licenses(python)
        listed = write_licenses(rows, args.out)
    unknown = [name for name, _, text in rows if text == "UNKNOWN"]
    print(f"wrote {sbom.relative_to(ROOT) if sbom.is_relative_to(ROOT) else sbom} "
          f"({len(rows)} packages) and {listed.name}")
    if unknown:
        print(f"licence not declared by: {', '.join(unknown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
