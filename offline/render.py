"""``make render STACK=s``: the stack's Kubernetes objects as YAML, one file per workload group,
under build/k8s/<stack>/. Runtime values and secrets are placeholders (see stacks.workloads)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

from k8s.build import build_groups
from offline.stack_files import ROOT, read_stack_config
from stacks.errors import ConfigError
from stacks.settings import load_settings
from stacks.workloads import render_runtime, render_secrets, workload_spec

OUT_DIR = ROOT / "build" / "k8s"


class _Dumper(yaml.SafeDumper):
    """Plain YAML for reviewers: no anchors, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: object) -> bool:
        """Never emit anchors: each object reads on its own."""
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objects: list[dict]) -> str:
    """Objects as one multi-document YAML text."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def render_stack(stack: str) -> dict[str, str]:
    """YAML text per file name (``<group>.yaml``) for one stack file."""
    config = read_stack_config(stack)
    settings = load_settings(config.values, config.secret_keys)
    region = config.values.get("aws:region", "eu-west-2")
    groups = build_groups(
        workload_spec(settings, stack, region=region), render_runtime(settings, stack, region),
        render_secrets(),
    )
    return {
        f"{group}.yaml": to_yaml(objects)
        for group, objects in groups.items()
    }


def write_stack(stack: str, out_dir: Path = OUT_DIR) -> list[Path]:
    """Writes one stack's files, replacing what a previous render left there."""
    target = out_dir / stack
    files = render_stack(stack)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for name, text in files.items():
        path = target / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 2 with the validation message on bad config."""
    parser = argparse.ArgumentParser(prog="make render")
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        written = write_stack(args.stack)
    except ConfigError as bad:
        print(bad, file=sys.stderr)
        return 2
    for path in written:
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
