"""The command line shared by files generated from the code: rewrite them, or check them."""

from __future__ import annotations

import argparse
from pathlib import Path


def write_or_check(path: Path, text: str, *, regenerate: str, argv: list[str] | None) -> int:
    """``--write`` rewrites ``path`` with ``text``; without it, exit 1 when ``path`` is stale."""
    parser = argparse.ArgumentParser(description=f"Generates {path.name}.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {path.name}")
    args = parser.parse_args(argv)
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return 0
    if not path.exists() or path.read_text() != text:
        print(f"{path.name} is stale: run {regenerate}")
        return 1
    return 0
