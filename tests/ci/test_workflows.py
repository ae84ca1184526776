"""The GitHub workflows are valid against the official schema and do what the docs promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True; map it back for readable assertions.
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True)
    return doc


def test_workflows_validate_against_the_github_workflow_schema():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    names = {Path(f).name for f in files}
    assert {"pull-request.yml", "preview.yml", "deploy.yml", "pr-comment.yml"} <= names
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", *files],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pull_requests_lint_test_and_comment_the_plan_diff_without_secrets():
    doc = load("pull-request.yml")
    assert "pull_request" in doc["on"]
    assert "make lint" in _runs(doc["jobs"]["test"])
    assert "make test" in _runs(doc["jobs"]["test"])
    diff_job = doc["jobs"]["plan-diff"]
    assert "make -s plan-diff STACK=${stack}" in _runs(diff_job)
    assert "${{ secrets." not in (WORKFLOWS / "pull-request.yml").read_text()


def test_the_quickstart_runs_on_ubuntu_24_04_as_the_runners_non_root_user():
    job = load("pull-request.yml")["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-24.04"
    runs = [step.get("run", "") for step in job["steps"]]
    checks = [i for i, run in enumerate(runs) if 'test "$(id -u)" -ne 0' in run]
    script = "\n".join(runs)
    order = [script.index(cmd) for cmd in ("make up DETACH=1", "make status", "make down",
                                           "make test")]
    assert checks and checks[0] < min(i for i, run in enumerate(runs) if "make up" in run)
    assert order == sorted(order), "the quickstart runs up, status, down, then the tests"
    for privileged in ("sudo make", "runuser", "su -c", "sudo -E"):
        assert privileged not in script, f"the quickstart must run as the runner: {privileged}"


def _writes(permissions: object) -> bool:
    if permissions in ("write-all",):
        return True
    return isinstance(permissions, dict) and "write" in permissions.values()


def test_the_pull_request_run_that_executes_its_code_holds_no_write_token():
    doc = load("pull-request.yml")
    assert not _writes(doc.get("permissions")), doc.get("permissions")
    for name, job in doc["jobs"].items():
        assert not _writes(job.get("permissions", doc.get("permissions"))), name
    diff_job = doc["jobs"]["plan-diff"]
    upload = next(s for s in diff_job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "plan-diff"


def test_the_privileged_comment_job_runs_no_code_from_the_pull_request():
    doc = load("pr-comment.yml")
    assert doc["on"] == {"workflow_run": {"workflows": ["pull-request"],
                                          "types": ["completed"]}}
    (job,) = doc["jobs"].values()
    assert job["permissions"]["pull-requests"] == "write"
    uses = [s["uses"].split("@") for s in job["steps"] if "uses" in s]
    assert [name for name, _ in uses] == ["actions/download-artifact",
                                          "marocchino/sticky-pull-request-comment"]
    # A job with a write token runs third-party code pinned by commit, never by a movable tag.
    assert all(re.fullmatch(r"[0-9a-f]{40}", ref) for _, ref in uses), uses
    scripts = _runs(job)
    # Only the number file is read, as data: nothing from the artifact or a checkout is run.
    for forbidden in ("make ", "python", "bash ", "sh ", "source ", "./", "eval", "pip "):
        assert forbidden not in scripts, forbidden
    assert "[!0-9]" in scripts
    assert "conclusion == 'success'" in job["if"]


def test_the_comment_goes_to_the_pull_request_the_run_built_not_the_one_the_fork_names():
    (job,) = load("pr-comment.yml")["jobs"].values()
    step = next(s for s in job["steps"] if s.get("id") == "pr")
    # The head commit comes from the event (GitHub's word), the artifact's number must match it.
    assert step["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert 'select(.headRefOid == \\"$HEAD_SHA\\")' in step["run"]
    assert '[ "$number" != "$claimed" ]' in step["run"]


def test_previews_run_per_stack_for_same_repo_prs_with_a_lock_per_stack():
    job = load("preview.yml")["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in job["if"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    assert job["concurrency"]["group"] == "pulumi-${{ matrix.stack }}"
    (pulumi,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    for flag in ("comment-on-pr", "edit-pr-comment", "always-include-summary"):
        assert pulumi["with"][flag] is True


def test_main_builds_the_image_then_staging_then_approved_prod():
    jobs = load("deploy.yml")["jobs"]
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert build["with"]["tags"].endswith(":${{ github.sha }}")
    assert jobs["staging"]["needs"] == "image"
    assert jobs["prod"]["needs"] == ["image", "staging"]
    assert jobs["prod"]["environment"] == "prod"
    for stage in ("staging", "prod"):
        (up,) = [s for s in jobs[stage]["steps"] if s.get("uses", "").startswith("pulumi/")]
        assert up["with"]["command"] == "up"
        assert "quintet:imageTag" in up["with"]["config-map"]
