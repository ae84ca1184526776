"""`make test`'s xdist scheduling keeps each service-sharing directory on one worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import scope_of

ROOT = Path(__file__).resolve().parents[2]


def test_service_sharing_directories_are_one_unit_and_the_rest_go_by_file() -> None:
    assert scope_of("tests/app/test_caching.py::test_a") == "tests/app"
    assert scope_of("tests/app/test_metrics.py::test_b[x]") == "tests/app"
    assert scope_of("tests/e2e/test_rollout.py::test_c") == "tests/e2e"
    assert scope_of("tests/celery/test_faults.py::test_d") == "tests/celery"
    assert scope_of("tests/infra/test_plan.py::test_e[prod]") == "tests/infra/test_plan.py"


def test_one_directory_runs_on_one_worker_under_xdist() -> None:
    # Two files of tests/app that need no services: under -n 2 they must still share a worker.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-v", "-p", "no:cacheprovider",
         "tests/app/test_boundaries.py", "tests/app/test_environment.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        # A fresh pytest: an earlier tests/app fixture of this worker set Django's settings
        # module in os.environ, and pytest-django in the child then looks for a project here.
        env={k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")})
    assert run.returncode == 0, run.stdout[-3000:]
    workers = {line.split()[0] for line in run.stdout.splitlines()
               if line.startswith("[gw") and "PASSED" in line}
    assert len(workers) == 1, run.stdout[-3000:]
