# quintet: every command a user or CI runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
STACK ?= dev
JSON ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: help bootstrap venv kit-venv docs plan diagram new-stack snapshots plan-diff render lint test test-infra test-k8s test-app test-celery test-e2e up down status reset rollout bench lock sbom cost slo

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages (when missing) and the Python venv
	@scripts/bootstrap.sh

venv: ## install only the Python venv (enough for plan, lint and mock tests), exactly requirements/dev.lock
	@scripts/bootstrap.sh --python-only

kit-venv: ## a venv of the kit's lock only (the Pulumi program and policy pack: the deploy jobs)
	@QUINTET_LOCK=requirements/kit.lock scripts/bootstrap.sh --python-only

plan: venv ## offline plan under Pulumi mocks and the providers' rules: STACK=dev|staging|prod (or "dev prod") [JSON=1] [IMAGE_TAG=t]
	@$(PY) -m offline.plan --stack $(STACK) $(if $(JSON),--json,) $(if $(IMAGE_TAG),--image-tag "$(IMAGE_TAG)",)

new-stack: venv ## fork a stack: NAME=<name> FROM=<stack or tier>; writes Pulumi.<name>.yaml
	@$(PY) -m offline.new_stack --name "$(NAME)" --from "$(FROM)"

diagram: bootstrap ## architecture diagram of STACK=<s> (or all shipped stacks) under docs/diagrams
	@$(PY) -m offline.diagram $(if $(filter command line,$(origin STACK)),$(STACK),dev staging prod)

snapshots: venv ## rewrite the committed plan snapshots of dev, staging and prod
	@$(PY) -m offline.snapshot --write dev staging prod

plan-diff: venv ## what STACK=<s> now declares differently from its committed snapshot
	@$(PY) -m offline.snapshot --diff "$(STACK)"

cost: venv ## monthly cost of STACK=<s> from its offline plan, per component and resource (docs/cost.md)
	@$(PY) -m offline.cost --stack "$(STACK)"

render: venv ## the stack's Kubernetes objects as YAML under build/k8s/STACK/ (placeholders for secrets)
	@$(PY) -m offline.render --stack "$(STACK)"

lint: bootstrap ## ruff, import-linter, hadolint, and squawk + the backward-compat check over every migration
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports --no-cache
	@cd app_image && ../.venv/bin/lint-imports --no-cache
	@.venv/bin/hadolint app_image/Dockerfile
	@$(PY) -m local.migration_lint

lock: venv ## regenerate the hash-locked sets from their .in inputs (incremental; UPGRADE=1 moves every package to its newest)
	@$(PY) scripts/lock.py $(if $(UPGRADE),--upgrade,)

sbom: venv ## CycloneDX SBOM and licence list of the app image's locked Python set, under build/sbom/
	@$(PY) scripts/sbom.py

docs: venv ## regenerate Pulumi.yaml's config block and docs/configuration.md from the model
	@$(PY) -m offline.project_file --write
	@$(PY) -m offline.config_reference --write

test: bootstrap lint ## everything: lint, infra, k8s, app and e2e tests (TEST_WORKERS=2 xdist workers)
	@$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-infra: venv ## Pulumi mock tests of the components and stacks
	@$(PY) -m pytest tests/infra $(PYTEST_ARGS)

test-k8s: venv ## Kubernetes objects of every stack: schemas, properties, the app contracts
	@$(PY) -m pytest tests/k8s $(PYTEST_ARGS)

test-app: bootstrap ## the Django app on real Postgres+replica, PgBouncer and Redis (started by the tests)
	@$(PY) -m pytest tests/app $(PYTEST_ARGS)

test-celery: bootstrap ## Celery under faults: real broker, real `entrypoint.sh worker` processes (~3 min)
	@$(PY) -m pytest tests/celery $(PYTEST_ARGS)

test-e2e: bootstrap ## the local topology end to end (brings its own up on other ports, then down)
	@$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

up: bootstrap ## the whole topology on this machine (Ctrl-C stops it); DETACH=1 returns once healthy
	@$(PY) -m local.cli up $(if $(filter-out 0,$(DETACH)),--detach,)

down: venv ## stop every process of the local topology (its state under .local/ is kept)
	@$(PY) -m local.cli down

status: venv ## status table of the local topology: process, pid, port, healthy
	@$(PY) -m local.cli status

rollout: venv ## replace every web process, then every worker pool and the relay, one at a time (zero downtime)
	@$(PY) -m local.cli rollout

reset: venv ## stop the local topology and wipe its state (.local/)
	@$(PY) -m local.cli reset

slo: venv ## the SLO table (target, measured, pass/fail) from the local Prometheus of `make up`
	@$(PY) -m local.slo

bench: bootstrap ## load the local topology (up for the run) and write build/bench/report.md
	@$(PY) -m local.bench
