"""Hash-locked dependency sets: current against their inputs, installed only with hash checks,
the base image by digest, the SBOM, and the update automation that keeps a set with its lock."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
sys.path.insert(0, str(ROOT / "scripts"))

import lock  # noqa: E402  (scripts/ is not a package)

INPUTS = ("requirements/dev.in", "requirements/kit.in", "policies/requirements.in",
          "app_image/requirements.in")
LOCKS = tuple(s.output for s in lock.SETS)
PIP_HASH_MISMATCH = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"
PIP_HASHES_REQUIRED = "Hashes are required in --require-hashes mode"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the inputs and locks, to make stale."""
    for name in INPUTS + LOCKS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _block(lock_text: str, package: str) -> str:
    """One package's lines of a lock (its pin and its hashes)."""
    match = re.search(rf"^{package}==\S+ \\\n(?:\s+--hash=sha256:[0-9a-f]+(?: \\)?\n)+",
                      lock_text, re.MULTILINE)
    assert match, package
    return match[0]


def _app_block(package: str) -> str:
    return _block((ROOT / "app_image/requirements.lock").read_text(), package)


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts/lock.py"), "--check",
                           "--root", str(root)], capture_output=True, text=True, timeout=60,
                          check=False)


# ---- the locks against their inputs ---------------------------------------------------------

def test_every_lock_is_current_and_hashed():
    assert lock.stale_reasons(ROOT) == []


def test_check_names_the_stale_lock_when_an_input_pin_moves(project):
    assert _check(project).returncode == 0, "an untouched copy is current"
    app = project / "app_image/requirements.in"
    version = re.search(r"^Django==(\S+)", app.read_text(), re.MULTILINE)[1]
    app.write_text(app.read_text().replace(f"Django=={version}", "Django==5.2.999"))
    done = _check(project)
    assert done.returncode == 1
    assert (f"quintet: app_image/requirements.lock is stale: app_image/requirements.in pins "
            f"django==5.2.999, the lock has {version}: run `make lock`") in done.stderr
    assert "quintet: requirements/dev.lock is stale: app_image/requirements.in" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_moved_pin_in_an_included_input_makes_the_dev_lock_stale(project):
    kit = project / "requirements/kit.in"
    kit.write_text(re.sub(r"^PyYAML==\S+", "PyYAML==0.0.1", kit.read_text(), flags=re.MULTILINE))
    reasons = lock.stale_reasons(project)
    assert any(r.startswith("requirements/kit.lock is stale: requirements/kit.in pins pyyaml")
               for r in reasons), reasons
    # dev.in pulls kit.in in with `-r kit.in`: the dev lock is stale too.
    assert any(r.startswith("requirements/dev.lock is stale: requirements/kit.in pins pyyaml")
               for r in reasons), reasons


def test_a_dropped_input_leaves_the_lock_stale(project):
    app = project / "app_image/requirements.in"
    app.write_text(re.sub(r"^whitenoise==\S+\n", "", app.read_text(), flags=re.MULTILINE))
    assert ("app_image/requirements.lock is stale: it still locks whitenoise, which no input "
            "asks for: run `make lock`") in lock.stale_reasons(project)


def test_locks_that_disagree_on_a_version_are_refused(project):
    app = project / "app_image/requirements.lock"
    app.write_text(re.sub(r"^vine==\S+", "vine==0.0.1", app.read_text(), flags=re.MULTILINE))
    assert any("locks vine==" in r and "app_image/requirements.lock has 0.0.1" in r
               for r in lock.stale_reasons(project))


def test_a_lock_without_hashes_is_refused(project):
    kit = project / "requirements/kit.lock"
    kit.write_text(re.sub(r" \\\n\s+--hash=sha256:[0-9a-f]+", "", kit.read_text()))
    assert ("requirements/kit.lock: every package needs its hashes: run `make lock`"
            in lock.stale_reasons(project))


def test_the_image_and_kit_locks_agree_with_the_dev_lock_on_every_version():
    dev = lock.locked_versions((ROOT / "requirements/dev.lock").read_text())
    for other in ("app_image/requirements.lock", "requirements/kit.lock"):
        pinned = lock.locked_versions((ROOT / other).read_text())
        assert pinned, other
        differ = {n: (v, dev.get(n)) for n, v in pinned.items() if dev.get(n) != v}
        assert differ == {}, f"{other} vs requirements/dev.lock: {differ}"


# ---- installing from a lock: hashes checked, exactly the lock ------------------------------

def _pip_install(requirements: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "--only-binary=:all:", "--target", str(target),
         "-r", str(requirements)],
        capture_output=True, text=True, timeout=300, check=False)


def test_a_tampered_hash_fails_the_install_with_pips_message(tmp_path):
    block = _app_block("vine")
    good = tmp_path / "good.lock"
    good.write_text(block)
    installed = _pip_install(good, tmp_path / "ok")
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "ok" / "vine").is_dir()
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", block))
    failed = _pip_install(tampered, tmp_path / "bad")
    assert failed.returncode != 0
    assert PIP_HASH_MISMATCH in failed.stderr
    assert not (tmp_path / "bad" / "vine").exists()


def _bootstrap_project(tmp_path: Path) -> Path:
    """A project holding only what ``bootstrap.sh --python-only`` needs."""
    for name in ("scripts/bootstrap.sh", "scripts/lock.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "requirements").mkdir()
    return tmp_path


def _bootstrap(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("QUINTET_LOCK", None)
    return subprocess.run(["bash", str(project / "scripts/bootstrap.sh"), "--python-only"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _has(project: Path, module: str) -> bool:
    return subprocess.run([str(project / ".venv/bin/python"), "-c", f"import {module}"],
                          capture_output=True, check=False).returncode == 0


def test_make_venv_installs_exactly_the_lock_and_follows_its_content(tmp_path):
    project = _bootstrap_project(tmp_path)
    dev_lock = project / "requirements/dev.lock"
    dev_lock.write_text(_app_block("vine"))
    first = _bootstrap(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installing requirements/dev.lock into .venv (hash-checked)" in first.stdout
    assert _has(project, "vine")

    again = _bootstrap(project)
    assert again.returncode == 0 and "installing" not in again.stdout, "an unchanged lock"

    dev_lock.write_text(_app_block("vine") + _app_block("sniffio"))
    edited = _bootstrap(project)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "installing requirements/dev.lock" in edited.stdout, "an edited lock reinstalls"
    assert _has(project, "sniffio")

    dev_lock.write_text(_app_block("sniffio"))
    dropped = _bootstrap(project)
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert not _has(project, "vine"), "a package the lock dropped leaves the venv"
    assert _has(project, "sniffio")


def test_make_venv_refuses_a_lock_without_hashes_and_a_tampered_one(tmp_path):
    project = _bootstrap_project(tmp_path)
    dev_lock = project / "requirements/dev.lock"
    version = re.search(r"^vine==(\S+)", _app_block("vine"))[1]
    dev_lock.write_text(f"vine=={version}\n")
    unhashed = _bootstrap(project)
    assert unhashed.returncode != 0
    assert PIP_HASHES_REQUIRED in unhashed.stdout + unhashed.stderr
    assert not _has(project, "vine")
    assert not (project / ".venv/.installed").exists(), "a failed install is not marked done"

    dev_lock.write_text(re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", _app_block("vine")))
    tampered = _bootstrap(project)
    assert tampered.returncode != 0
    assert PIP_HASH_MISMATCH in tampered.stdout + tampered.stderr


def test_a_missing_lock_is_named_not_a_traceback(tmp_path):
    project = _bootstrap_project(tmp_path)
    done = _bootstrap(project)
    assert done.returncode == 1
    assert "quintet: requirements/dev.lock is missing: run `make lock`" in done.stderr
    assert "Traceback" not in done.stderr


# ---- the image: its lock only, hash-checked, from a base image given by digest -------------

def _stages(dockerfile: str) -> dict[str, str]:
    parts = re.split(r"^FROM \S+ AS (\w+)\n", dockerfile, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_image_installs_only_its_lock_with_hashes_from_a_base_image_by_digest():
    dockerfile = (ROOT / "app_image/Dockerfile").read_text()
    # The tag is the documented fallback; a digest is never written here (none can be verified
    # offline): the deploy workflow passes name@digest.
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:[\w.\-]+", default), default
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${BASE_IMAGE}"] * 2
    build = _stages(dockerfile)["build"]
    assert "COPY requirements.lock /tmp/requirements.lock" in build
    assert "python -m venv --without-pip /opt/venv" in build
    install = re.search(r"^RUN [^\n]*pip [^\n]*install(?:[^\n]*\\\n)*[^\n]*$", build,
                        re.MULTILINE)[0]
    for flag in ("--require-hashes", "--only-binary=:all:", "-r /tmp/requirements.lock",
                 "--python /opt/venv/bin/python"):
        assert flag in install, flag
    assert "--no-deps" not in install, "pip must see every dependency in the lock"
    assert "requirements.in" not in dockerfile


def test_the_runtime_stage_gets_the_venv_and_the_app_and_no_build_tool():
    runtime = _stages((ROOT / "app_image/Dockerfile").read_text())["runtime"]
    runs = re.findall(r"^RUN ((?:[^\n]*\\\n)*[^\n]*)$", runtime, re.MULTILINE)
    assert len(runs) == 1 and runs[0].startswith("groupadd "), runs
    for tool in ("pip", "apt-get", "apk", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runs[0], tool
    copies = re.findall(r"^COPY (.*)$", runtime, re.MULTILINE)
    assert copies == ["--from=build /opt/venv /opt/venv", "--from=build /app /app"]


def test_the_sbom_lists_exactly_what_the_lock_installs_with_its_licence(tmp_path):
    small = tmp_path / "one.lock"
    small.write_text(_app_block("vine"))
    out = tmp_path / "sbom"
    done = subprocess.run([sys.executable, str(ROOT / "scripts/sbom.py"), "--lock", str(small),
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    sbom = json.loads((out / "app-image.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    version = re.search(r"^vine==(\S+)", small.read_text())[1]
    assert {(c["name"], c["version"]) for c in sbom["components"]} == {("vine", version)}
    assert any(c.get("purl") == f"pkg:pypi/vine@{version}" for c in sbom["components"])
    assert f"| vine | {version} | BSD License |" in (out / "licenses.md").read_text()


def test_the_sbom_refuses_a_tampered_lock_with_pips_message(tmp_path):
    tampered = tmp_path / "tampered.lock"
    tampered.write_text(re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", _app_block("vine")))
    done = subprocess.run([sys.executable, str(ROOT / "scripts/sbom.py"), "--lock",
                           str(tampered), "--out", str(tmp_path / "sbom")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode != 0
    assert "quintet: installing tampered.lock failed" in done.stderr
    assert PIP_HASH_MISMATCH in done.stderr
    assert not (tmp_path / "sbom" / "app-image.cdx.json").exists()


# ---- the workflows install from the locks ---------------------------------------------------

def _workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True)
    return doc


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def _step_index(job: dict, needle: str) -> int:
    return next(i for i, s in enumerate(_steps(job)) if needle in s.get("run", ""))


def test_bootstrap_installs_the_dev_lock_with_hash_checking():
    script = (ROOT / "scripts/bootstrap.sh").read_text()
    assert 'lock=${QUINTET_LOCK:-requirements/dev.lock}' in script
    (install,) = [line for line in script.splitlines() if "pip install" in line]
    assert "--require-hashes" in install and '-r "$lock"' in install, install
    # The marker is the lock's own content hash, so an edited lock reinstalls.
    assert re.search(r'sum=\$\([^)]*cat [^)]*"\$lock"[^)]*sha256sum', script), script
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^kit-venv:.*\n\t@QUINTET_LOCK=requirements/kit\.lock "
                     r"scripts/bootstrap\.sh --python-only$", makefile, re.MULTILINE)


def test_ci_installs_the_dev_lock_and_fails_on_a_stale_lock():
    job = _workflow("pull-request.yml")["jobs"]["test"]
    venv = _step_index(job, "make venv")
    check = _step_index(job, "scripts/lock.py --check")
    assert venv < check < _step_index(job, "make lint") < _step_index(job, "make test")
    (setup,) = [s for s in _steps(job) if s.get("uses", "").startswith("actions/setup-python")]
    assert setup["with"]["cache-dependency-path"] == "requirements/dev.lock"


def test_every_python_install_in_every_workflow_comes_from_a_lock():
    installs = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        for job in doc["jobs"].values():
            for step in job.get("steps", []):
                script = step.get("run", "")
                for line in re.findall(r"[^\n]*pip3? install[^\n]*", script):
                    assert "--require-hashes" in line and ".lock" in line, (path.name, line)
                installs += len(re.findall(r"\bmake (?:venv|kit-venv|sbom)\b", script))
                assert "requirements.in" not in script and "requirements/dev.in" not in script
    assert installs >= 5
    deploy = _workflow("deploy.yml")["jobs"]
    preview = _workflow("preview.yml")["jobs"]["preview"]
    # The Pulumi jobs get the kit's lock only (the program and the policy pack need no more).
    for job in (deploy["staging"], deploy["prod"], preview):
        runs = "\n".join(s.get("run", "") for s in _steps(job))
        assert "make kit-venv" in runs and "make venv" not in runs


def test_deploy_builds_from_the_base_digest_and_keeps_it_and_the_sbom_beside_the_image():
    job = _workflow("deploy.yml")["jobs"]["image"]
    steps = _steps(job)
    base = next(i for i, s in enumerate(steps) if s.get("id") == "base")
    assert "docker buildx imagetools inspect" in steps[base]["run"]
    build = next(i for i, s in enumerate(steps) if "build-push-action" in s.get("uses", ""))
    assert base < build
    args = steps[build]["with"]
    assert args["build-args"].splitlines() == ["BASE_IMAGE=${{ steps.base.outputs.image }}"]
    labels = args["labels"].splitlines()
    assert "org.opencontainers.image.base.digest=${{ steps.base.outputs.digest }}" in labels
    assert "org.opencontainers.image.base.name=${{ steps.base.outputs.tag }}" in labels
    sbom = _step_index(job, "make sbom")
    assert build < sbom
    assert "base-image.txt" in steps[sbom]["run"]
    upload = next(s for s in steps[sbom:] if "upload-artifact" in s.get("uses", ""))
    kept = upload["with"]["path"].split()
    for name in ("app-image.cdx.json", "licenses.md", "base-image.txt"):
        assert f"build/sbom/{name}" in kept, name


def _resolve_digest(tmp_path: Path, docker_prints: str) -> tuple[subprocess.CompletedProcess,
                                                                  dict[str, str]]:
    """Run the deploy workflow's digest step as GitHub would, with ``docker`` a stub registry."""
    step = next(s for s in _steps(_workflow("deploy.yml")["jobs"]["image"])
                if s.get("id") == "base")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    stub = bin_dir / "docker"
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/docker-args\ncat <<'EOF'\n"
                    f"{docker_prints}\nEOF\n")
    stub.chmod(0o755)
    (tmp_path / "app_image").mkdir()
    shutil.copy(ROOT / "app_image/Dockerfile", tmp_path / "app_image/Dockerfile")
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    output = tmp_path / "github-output"
    output.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    values = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return done, values


def test_the_digest_step_builds_from_name_at_digest_and_refuses_a_missing_digest(tmp_path):
    digest = "sha256:" + "ab12" * 16
    manifest = json.dumps({"schemaVersion": 2, "mediaType":
                           "application/vnd.oci.image.index.v1+json", "digest": digest,
                           "size": 9218, "manifests": []})
    done, values = _resolve_digest(tmp_path / "ok", manifest)
    assert done.returncode == 0, done.stderr
    tag = re.search(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "app_image/Dockerfile").read_text(),
                    re.MULTILINE)[1]
    assert values == {"tag": tag, "digest": digest, "image": f"{tag}@{digest}"}
    args = (tmp_path / "ok" / "docker-args").read_text()
    assert args.startswith(f"buildx imagetools inspect {tag} --format")

    failed, values = _resolve_digest(tmp_path / "bad", '{"schemaVersion": 2}')
    assert failed.returncode != 0
    assert f"::error::no digest for the base image {tag}" in failed.stdout
    assert "image" not in values


# ---- update automation: one pull request per set, with its lock ----------------------------

# The options Renovate's pip-compile manager accepts in a lock's header (it skips a lock whose
# header has any other): renovatebot/renovate lib/modules/manager/pip-compile/common.ts.
RENOVATE_PIP_COMPILE_OPTIONS = {"-v", "--all-extras", "--allow-unsafe", "--generate-hashes",
                                "--no-emit-index-url", "--emit-index-url", "--strip-extras",
                                "--index-url", "--output-file", "--extra", "--extra-index-url",
                                "--resolver", "--constraint"}


def _renovate() -> dict:
    return json.loads((ROOT / "renovate.json").read_text())


def _validate_renovate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.renovate", str(path)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_renovate_config_validates_against_renovates_schema(tmp_path):
    done = _validate_renovate(ROOT / "renovate.json")
    assert done.returncode == 0, done.stdout + done.stderr
    broken = _renovate()
    broken["lockFileMaintenance"]["enabled"] = "weekly"
    (tmp_path / "renovate.json").write_text(json.dumps(broken))
    assert _validate_renovate(tmp_path / "renovate.json").returncode != 0


def _header(lock_path: str) -> list[str]:
    text = (ROOT / lock_path).read_text()
    (command,) = re.findall(r"^#    (pip-compile .*)$", text, re.MULTILINE)
    return command.split()[1:]


def test_renovate_regenerates_each_lock_from_its_header_and_groups_a_set_with_its_lock():
    config = _renovate()
    assert config["pip_requirements"]["enabled"] is False, "inputs are bumped with their locks"
    assert config["lockFileMaintenance"]["enabled"] is True
    patterns = [re.compile(p.strip("/")) for p in config["pip-compile"]["managerFilePatterns"]]
    for lock_set in lock.SETS:
        assert sum(bool(p.search(lock_set.output)) for p in patterns) == 1, lock_set.output
        header = _header(lock_set.output)
        options = {a.split("=", 1)[0] for a in header if a.startswith("-")}
        assert options <= RENOVATE_PIP_COMPILE_OPTIONS, options - RENOVATE_PIP_COMPILE_OPTIONS
        sources = [a for a in header if not a.startswith("-")]
        assert sorted(sources) == sorted(lock_set.inputs)
        assert all(s.endswith(".in") for s in sources), "Renovate reads only .in sources"
    for name in INPUTS:
        assert not any(p.search(name) for p in patterns), name

    rules = config["packageRules"]
    groups: dict[str, str] = {}
    for rule in rules:
        if rule.get("matchManagers") == ["pip-compile"]:
            for name in rule["matchFileNames"]:
                assert name not in groups, f"{name} is in two groups"
                groups[name] = rule["groupName"]
    assert set(groups) == set(INPUTS), "every input file updates in exactly one group"
    assert len(set(groups.values())) == 3, "one pull request per set"
    assert groups["requirements/kit.in"] == groups["policies/requirements.in"]


def test_renovate_also_updates_github_actions_and_the_base_image_tag():
    rules = {tuple(r["matchManagers"]): r for r in _renovate()["packageRules"]}
    assert rules[("github-actions",)]["groupName"]
    docker = rules[("dockerfile",)]
    assert docker["matchFileNames"] == ["app_image/Dockerfile"]
    # The Dockerfile keeps the tag; the digest is resolved and recorded by the deploy workflow.
    assert docker["pinDigests"] is False
    assert (ROOT / "app_image/Dockerfile").is_file()
    used = {s["uses"].split("@")[0] for p in WORKFLOWS.glob("*.yml")
            for job in yaml.safe_load(p.read_text())["jobs"].values()
            for s in job.get("steps", []) if "uses" in s}
    assert "actions/checkout" in used, "there are actions for the github-actions manager"
