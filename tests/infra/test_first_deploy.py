"""The first deploy of a fresh account: no workloads until an image is named, tags that move
refused, deploys by digest, and Pulumi awaiting the migrations Job as long as Kubernetes runs it."""

from __future__ import annotations

import pytest

from stacks.settings.schema import leaves_by_key

DIGEST = "sha256:" + "ab" * 32


def test_without_an_image_the_first_up_declares_all_but_the_workloads(run_with):
    run = run_with("prod", {"quintet:imageTag": None})
    assert not [r for r in run.resources if r.name.startswith("workloads-")]
    assert run.of_type("aws:ecr/repository:Repository")
    assert run.of_type("aws:eks/cluster:Cluster") and run.of_type("aws:rds/instance:Instance")
    commands = run.stack_outputs["image_push_commands"]
    url = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/quintet-prod"
    assert f'docker push "{url}:$TAG"' in commands
    assert "aws ecr get-login-password --region eu-west-2" in commands
    assert 'pulumi config set quintet:imageTag "$TAG"' in commands
    assert "pulumi up" in run.stack_outputs["next_step"]


def test_with_an_image_the_workloads_are_declared_and_no_push_step(run_with):
    run = run_with("prod", {"quintet:imageTag": "3f2a9c1d7e4b"})
    web = run.named("workloads-deployment-web")
    image = web.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("/quintet-prod:3f2a9c1d7e4b")
    assert "image_push_commands" not in run.stack_outputs


def test_the_default_tag_names_no_image():
    assert leaves_by_key()["imageTag"].default == ""


@pytest.mark.parametrize("tag", ["latest", "main", "stable", "Latest", "prod"])
def test_a_tag_mutable_by_name_is_refused_naming_the_key(config_error, tag):
    message = config_error("prod", {"quintet:imageTag": tag})
    assert f'quintet:imageTag: "{tag}" is not allowed; a tag mutable by name is refused' in message


def test_a_malformed_tag_or_digest_is_refused(config_error):
    assert 'quintet:imageTag: "-x" is not allowed; expected a Docker tag' in config_error(
        "prod", {"quintet:imageTag": "-x"}
    )
    message = config_error("prod", {"quintet:imageDigest": "sha256:xyz"})
    assert 'quintet:imageDigest: "sha256:xyz" is not allowed; expected sha256:' in message


@pytest.mark.parametrize(
    ("tag", "suffix"), [(None, f"/quintet-prod@{DIGEST}"), ("3f2a9c", f":3f2a9c@{DIGEST}")]
)
def test_deploying_by_digest(run_with, tag, suffix):
    run = run_with("prod", {"quintet:imageTag": tag, "quintet:imageDigest": DIGEST})
    for name in ("workloads-deployment-web", "workloads-job-migrate"):
        pod = run.named(name).inputs["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"].endswith(suffix), name


def test_pulumi_awaits_the_migrations_job_exactly_its_deadline(stack_run):
    job = stack_run("prod").named("workloads-job-migrate")
    deadline = int(job.inputs["spec"]["activeDeadlineSeconds"])
    assert job.custom_timeouts == {"create": f"{deadline}s", "update": f"{deadline}s"}


def test_the_push_commands_use_the_stacks_aws_profile(run_with):
    run = run_with("dev", {"quintet:imageTag": None, "aws:profile": "quintet-dev"})
    assert "get-login-password --region eu-west-2 --profile quintet-dev |" in (
        run.stack_outputs["image_push_commands"]
    )
