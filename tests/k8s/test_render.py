"""`make render`: one YAML file per workload group with the builders' objects, placeholders for
every secret and runtime value, and bad config refused with the validation message."""

from __future__ import annotations

import yaml

from offline.render import main, render_stack, write_stack
from stacks.workloads import RENDER_SECRET
from tests.k8s.conftest import groups_of


def test_render_writes_one_file_per_group_with_the_builders_objects(tmp_path) -> None:
    written = write_stack("prod", tmp_path)
    groups = groups_of("prod")
    assert sorted(p.name for p in written) == sorted(f"{g}.yaml" for g in groups)
    for path in written:
        assert list(yaml.safe_load_all(path.read_text())) == groups[path.stem]


def test_render_replaces_a_previous_render(tmp_path) -> None:
    stale = tmp_path / "dev" / "old-group.yaml"
    stale.parent.mkdir()
    stale.write_text("kind: Stale\n")
    write_stack("dev", tmp_path)
    assert not stale.exists()


def test_rendered_secrets_are_placeholders() -> None:
    for stack in ("dev", "staging", "prod"):
        base = list(yaml.safe_load_all(render_stack(stack)["base.yaml"]))
        secrets = [o for o in base if o["kind"] == "Secret"]
        assert len(secrets) == 6
        for secret in secrets:
            for key, value in secret["stringData"].items():
                if key == "DATABASE_REPLICA_URLS" and not value:
                    continue  # dev has no replicas
                assert RENDER_SECRET in value, f"{stack}: {secret['metadata']['name']}.{key}"


def test_render_is_deterministic() -> None:
    assert render_stack("staging") == render_stack("staging")


def test_unknown_stack_exits_2_with_the_message(capsys) -> None:
    assert main(["--stack", "nope"]) == 2
    assert "no file Pulumi.nope.yaml" in capsys.readouterr().err
