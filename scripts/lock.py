"""``make lock``: hash-locked requirement sets from the human-edited requirement files (pip-tools).

The inputs stay what people edit (top-level packages, pinned): ``requirements/dev.in``,
``requirements/kit.in``, ``policies/requirements.in`` and ``app_image/requirements.in``. Each
set gets a lock with every package of its whole tree pinned and hashed, which
``pip install --require-hashes`` installs exactly:

- ``requirements/dev.lock``: the developer venv (`make venv`, CI): tools, kit, policy pack and
  app, resolved together because they share one venv;
- ``requirements/kit.lock``: the Pulumi program and the policy pack (the deploy job);
- ``app_image/requirements.lock``: the app image.

The image's set is resolved first, the kit's with the image lock as constraints, and the dev set
with both, so a package has the same version wherever it is installed and the tests run on the
image's versions. That order also lets Renovate's pip-compile manager regenerate a set and then
the dev lock after it (it reads the command from pip-compile's header; its sources must end in
``.in``, and it refuses options it does not know, so the header holds only options it accepts
and this machine's pip configuration, local wheel folders included, is kept out of the
resolution). pip-compile keeps every version already locked unless its input moved, so a
re-lock is incremental; ``--upgrade`` moves everything to the newest allowed.

``--check`` (run by the tests and the pull-request workflow) fails when a lock no longer matches
its inputs: a pinned input missing or at another version, a locked top-level package no input
asks for any more, a lock without hashes, or two locks disagreeing on a version.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", re.MULTILINE)
VIA_INPUT = re.compile(r"^([A-Za-z0-9_.\-]+)==\S+[^\n]*\n(?:\s+--hash=\S+[^\n]*\n)*"
                       r"((?:\s+#[^\n]*\n)+)", re.MULTILINE)
# pip installs the lock: removing it from the venv would leave the venv unable to install.
KEEP = frozenset({"pip"})


@dataclass(frozen=True)
class LockSet:
    """One dependency set: its input files, its lock, and the locks it is constrained by."""

    name: str
    inputs: tuple[str, ...]
    output: str
    constraints: tuple[str, ...] = ()

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


# In resolution order: each set is constrained by the locks written before it.
SETS = (
    LockSet("app", ("app_image/requirements.in",), "app_image/requirements.lock"),
    LockSet("kit", ("requirements/kit.in", "policies/requirements.in"),
            "requirements/kit.lock", constraints=("app_image/requirements.lock",)),
    LockSet("dev", ("requirements/dev.in", "app_image/requirements.in"),
            "requirements/dev.lock",
            constraints=("app_image/requirements.lock", "requirements/kit.lock")),
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
    names = list(locks)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            for name, version in locks[first].items():
                other = locks[second].get(name)
                if other is not None and other != version:
                    problems.append(f"{second} locks {name}=={other} but {first} has "
                                    f"{version}: run `make lock`")
    return problems


def extraneous(lock_text: str) -> list[str]:
    """Distributions of the running interpreter's environment that the lock does not name."""
    import importlib.metadata

    locked = set(locked_versions(lock_text)) | KEEP
    installed = {_normal(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    return sorted(installed - locked)


def compile_env() -> dict[str, str]:
    """pip-compile's environment: the index alone (PyPI or PIP_INDEX_URL), no pip config files.

    This machine's pip config adds local wheel folders; resolved with them, the header would need
    --no-emit-find-links, which Renovate's pip-compile manager refuses.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def compile_set(lock: LockSet, root: Path = ROOT, upgrade: bool = False) -> None:
    """Run pip-compile for one set (keeping the versions already locked unless inputs moved)."""
    command = [
        sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes",
        "--allow-unsafe", "--strip-extras", "--no-emit-index-url", "--output-file", lock.output,
    ]
    command += [f"--constraint={c}" for c in lock.constraints]
    if upgrade:
        command.append("--upgrade")
    command += list(lock.inputs)
    subprocess.run(command, cwd=root, check=True, env=compile_env())


def main(argv: list[str] | None = None) -> int:
    """Regenerate every lock; or ``--check`` them (exit 1 when stale); or list ``--extraneous``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--upgrade", action="store_true",
                        help="move every package to the newest version its input allows")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project (a test's copy)")
    parser.add_argument("--extraneous", type=Path, metavar="LOCK",
                        help="print what this interpreter has installed that LOCK does not name")
    args = parser.parse_args(argv)
    if args.extraneous:
        print(" ".join(extraneous(args.extraneous.read_text())))
        return 0
    if args.check:
        problems = stale_reasons(args.root)
        for line in problems:
            print(f"quintet: {line}", file=sys.stderr)
        return 1 if problems else 0
    for lock in SETS:
        print(f"locking {lock.name}: {lock.output}")
        compile_set(lock, args.root, upgrade=args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
