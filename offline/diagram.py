"""An architecture diagram of a stack, drawn from its offline plan with Graphviz.

``make diagram STACK=prod`` writes docs/diagrams/<stack>.dot and .svg: one box per top-level
component holding its resource types with counts, and an arrow wherever a component's resources
depend on another component's. Generated from the plan, so it cannot drift from the code.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from offline.mocks import ProgramRun, RecordedResource

DIAGRAM_DIR = Path(__file__).resolve().parent.parent / "docs" / "diagrams"


def _top(resource: RecordedResource, by_urn: dict[str, RecordedResource]) -> RecordedResource:
    while resource.parent and resource.parent in by_urn:
        resource = by_urn[resource.parent]
    return resource


def _label(type_token: str) -> str:
    package, module, kind = type_token.split(":", 2)
    module = module.split("/")[0]
    return f"{package} {kind}" if module in ("index", package) else f"{package} {module}.{kind}"


def _id(name: str) -> str:
    return "c_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def render_dot(run: ProgramRun) -> str:
    """The DOT text of the stack's architecture diagram."""
    by_urn = {r.urn: r for r in run.resources}
    members: dict[str, Counter] = defaultdict(Counter)
    tops: dict[str, RecordedResource] = {}
    for r in run.resources:
        if r.type.startswith("pulumi:providers:"):
            continue  # providers are plumbing, not architecture
        top = _top(r, by_urn)
        tops[top.urn] = top
        if r is not top:
            members[top.urn][_label(r.type)] += 1
    edges: set[tuple[str, str]] = set()
    for r in run.resources:
        source = _top(r, by_urn).urn
        for dep in r.dependencies:
            if dep in by_urn:
                target = _top(by_urn[dep], by_urn).urn
                if target != source:
                    edges.add((source, target))
    lines = [
        f'digraph "quintet-{run.stack}" {{',
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
        f'  label="quintet {run.stack}: {len(run.resources)} resources"; labelloc=t;',
    ]
    for urn in sorted(tops, key=lambda u: (tops[u].type, tops[u].name)):
        top = tops[urn]
        rows = [f"{top.name} ({_label(top.type)})"]
        rows += [f"{n} x {t}" for t, n in sorted(members[urn].items())]
        label = "\\l".join(rows) + "\\l"
        lines.append(f'  {_id(top.name)} [label="{label}"];')
    for source, target in sorted(edges):
        lines.append(f"  {_id(tops[source].name)} -> {_id(tops[target].name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_diagram(stack: str) -> Path:
    """Writes docs/diagrams/<stack>.dot and, where Graphviz is installed, .svg."""
    from offline.plan import plan_stack  # late: provider imports are slow

    DIAGRAM_DIR.mkdir(parents=True, exist_ok=True)
    dot_path = DIAGRAM_DIR / f"{stack}.dot"
    dot_path.write_text(render_dot(plan_stack(stack, steady_state=True)))
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("quintet: Graphviz is missing: apt-get install graphviz (make bootstrap)")
    svg = DIAGRAM_DIR / f"{stack}.svg"
    subprocess.run([dot, "-Tsvg", str(dot_path), "-o", str(svg)], check=True)
    return svg


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make diagram``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stacks", nargs="+")
    args = parser.parse_args(argv)
    for stack in args.stacks:
        print(f"wrote {write_diagram(stack).relative_to(DIAGRAM_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
