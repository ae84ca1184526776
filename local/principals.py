"""API tokens for the local topology's own clients (the e2e tests and the bench).

The write APIs need a principal: an editor publishes, a customer orders. This makes one through
the app's `principal_create` command, run with exactly the app's environment (local.launch), as
an operator would with `manage.py` in a pod.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

from local.topology import APP_DIR, ROOT, Topology


def principal_token(topology: Topology, *, role: str, username: str | None = None) -> str:
    """Create an account with `role` (editor or customer) and return its API token."""
    name = username or f"{role}-{uuid.uuid4().hex[:10]}"
    command = [sys.executable, "-m", "local.launch", str(topology.app_env_file), "--",
               sys.executable, str(APP_DIR / "manage.py"), "principal_create",
               "--username", name, "--role", role]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"principal_create failed: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


def auth_headers(token: str) -> dict[str, str]:
    """The Authorization header of an API token."""
    return {"Authorization": f"Token {token}"}
