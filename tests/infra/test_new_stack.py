"""Forking a stack: the new file marks what a team must decide and plans offline at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from offline.mocks import run_program
from offline.new_stack import ForkError, new_stack
from offline.stack_files import read_stack_config
from stacks.program import offline_main as main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for path in ROOT.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize("source", ["prod", "staging", "dev", "prod-tier"])
def test_fork_plans_offline_and_marks_todos(project, source):
    origin = "prod" if source == "prod-tier" else source
    if source == "prod-tier":
        (project / "Pulumi.prod.yaml").unlink()  # so FROM=prod means the tier
    path = new_stack("team-a", origin, root=project)
    text = path.read_text()
    assert "TODO" in text
    assert "# TODO: the region this stack deploys to" in text
    config = read_stack_config("team-a", root=project)
    assert config.values["quintet:tier"] == origin
    run = run_program(main, stack="team-a", config=config.values,
                      secret_keys=config.secret_keys)
    assert len(run.resources) > 30


def test_secrets_are_not_copied(project):
    (project / "Pulumi.prod.yaml").write_text(
        (project / "Pulumi.prod.yaml").read_text()
        + "  cloudflare:apiToken:\n    secure: v1:abc123encrypted\n"
    )
    text = new_stack("team-b", "prod", root=project).read_text()
    assert "abc123encrypted" not in text
    assert "pulumi config set --secret cloudflare:apiToken" in text
    assert "cloudflare:apiToken" not in (yaml.safe_load(text)["config"])


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("Team A", "prod", "NAME='Team A' is not allowed"),
        ("qa", "nope", "FROM='nope' is neither a stack nor a tier"),
        ("prod", "dev", "Pulumi.prod.yaml already exists"),
    ],
)
def test_bad_forks_are_refused_clearly(project, name, source, message):
    with pytest.raises(ForkError, match=message):
        new_stack(name, source, root=project)


def test_fork_marks_the_placeholders_a_real_deploy_refuses(project):
    text = new_stack("team-p", "prod", root=project).read_text()
    marked = [line for line in text.splitlines() if "# PLACEHOLDER:" in line]
    assert {line.split(":", 2)[1].strip() for line in marked} >= {
        "domain", "cloudflareZoneId", "clusterPublicAccessCidrs"
    }
    # Defaults that are placeholders are listed too, with what to set.
    assert "#   quintet:upstreamSanctionsUrl: 'https://sanctions.example.com/v1/screen' is a " \
        "placeholder; set the provider's endpoint URL" in text
