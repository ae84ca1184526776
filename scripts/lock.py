"""``make lock``: hash-locked requirement sets from the human-edited requirement files (pip-tools).

The inputs stay what people edit (top-level packages, pinned): ``requirements/dev.txt``,
``requirements/kit.txt``, ``policies/requirements.txt`` and ``app_image/requirements.txt``. Each
set gets a lock with every package of its whole tree pinned and hashed, which
``pip install --require-hashes`` installs exactly:

- ``requirements/dev.lock``: the developer venv (`make venv`, CI): tools, kit, policy pack and
  app, resolved together because they share one venv;
- ``requirements/kit.lock``: the Pulumi program and the policy pack (the deploy job);
- ``app_image/requirements.lock``: the app image.

The kit and app sets are resolved with the dev lock as constraints, so a package has the same
version wherever it is installed. pip-compile's own header (the command, which Renovate reads to
refresh a lock) stays as it writes it. ``--check`` (run by the tests) fails when a lock no longer
matches its inputs: a pinned input missing or at another version, a locked top-level package no
input asks for any more, a lock without hashes, or two locks disagreeing on a version.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", re.MULTILINE)
VIA_INPUT = re.compile(r"^([A-Za-z0-9_.\-]+)==\S+[^\n]*\n(?:\s+--hash=\S+[^\n]*\n)*"
                       r"((?:\s+#[^\n]*\n)+)", re.MULTILINE)


@dataclass(frozen=True)
class LockSet:
    """One dependency set: its input files, its lock, and the lock it is constrained by."""

    name: str
    inputs: tuple[str, ...]
    output: str
    constraint: str | None = None

    def input_paths(self, root: Path) -> list[Path]:
        """Every input file, including those its ``-r`` lines pull in."""
        seen: list[Path] = []
        pending = [root / p for p in self.inputs]
        while pending:
            path = pending.pop(0).resolve()
            if path in seen:
                continue
            seen.append(path)
            for line in path.read_text().splitlines():
                if line.startswith(("-r ", "--requirement ")):
                    pending.append(path.parent / line.split(maxsplit=1)[1].strip())
        return seen


SETS = (
    LockSet("dev", ("requirements/dev.txt", "app_image/requirements.txt"),
            "requirements/dev.lock"),
    LockSet("kit", ("requirements/kit.txt", "policies/requirements.txt"),
            "requirements/kit.lock", constraint="requirements/dev.lock"),
    LockSet("app", ("app_image/requirements.txt",), "app_image/requirements.lock",
            constraint="requirements/dev.lock"),
)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()


def via_reasons(comments: str) -> list[str]:
    """Why pip-compile locked a package: ``-r <input>`` lines and the packages needing it."""
    reasons = []
    for line in comments.splitlines():
        text = line.strip().lstrip("#").strip()
        if text.startswith("via "):
            reasons.append(text.removeprefix("via ").strip())
        elif text and text != "via":
            reasons.append(text)
    return reasons


def locked_versions(text: str) -> dict[str, str]:
    """Package (normalized name) -> version of a lock's text."""
    return {_normal(name): version for name, version in PIN.findall(text)}


def stale_reasons(root: Path = ROOT) -> list[str]:
    """One line per way a lock no longer matches its inputs (empty when every lock is current)."""
    problems = []
    locks: dict[str, dict[str, str]] = {}
    for lock in SETS:
        output = root / lock.output
        if not output.exists():
            problems.append(f"{lock.output} is missing: run `make lock`")
            continue
        text = output.read_text()
        pinned = locks[lock.output] = locked_versions(text)
        if "--hash=sha256:" not in text or text.count("==") > text.count("--hash=sha256:"):
            problems.append(f"{lock.output}: every package needs its hashes: run `make lock`")
        wanted: set[str] = set()
        for path in lock.input_paths(root):
            for name, version in PIN.findall(path.read_text()):
                wanted.add(_normal(name))
                if pinned.get(_normal(name)) != version:
                    problems.append(
                        f"{lock.output} is stale: {path.relative_to(root)} pins "
                        f"{_normal(name)}=={version}, the lock has "
                        f"{pinned.get(_normal(name), 'none')}: run `make lock`")
        for name, comments in VIA_INPUT.findall(text):
            reasons = via_reasons(comments)
            direct = [r for r in reasons if r.startswith("-r ")]
            needed = [r for r in reasons if not r.startswith(("-r ", "-c "))]
            if direct and not needed and _normal(name) not in wanted:
                problems.append(f"{lock.output} is stale: it still locks {_normal(name)}, "
                                "which no input asks for: run `make lock`")
    for name, version in locks.get("requirements/dev.lock", {}).items():
        for other, pinned in locks.items():
            if other != "requirements/dev.lock" and name in pinned and pinned[name] != version:
                problems.append(f"{other} locks {name}=={pinned[name]} but requirements/dev.lock "
                                f"has {version}: run `make lock`")
    return problems


def compile_set(lock: LockSet, root: Path = ROOT) -> None:
    """Run pip-compile for one set (keeping the versions already locked unless inputs moved)."""
    command = [
        sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes",
        "--allow-unsafe", "--strip-extras", "--no-emit-index-url", "--no-emit-find-links",
        "--no-emit-trusted-host", "--output-file", lock.output,
    ]
    if lock.constraint:
        command += ["--constraint", lock.constraint]
    command += list(lock.inputs)
    subprocess.run(command, cwd=root, check=True)


def main(argv: list[str] | None = None) -> int:
    """``--check`` reports stale locks (exit 1); otherwise every lock is regenerated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_reasons()
        for line in problems:
            print(f"quintet: {line}", file=sys.stderr)
        return 1 if problems else 0
    for lock in SETS:
        print(f"locking {lock.name}: {lock.output}")
        compile_set(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
