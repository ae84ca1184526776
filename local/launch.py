"""Exec a command with exactly the app's environment (the contract, from a 0600 JSON file).

Process managers pass their own variables and the caller's environment to children; this
launcher replaces all of that, so an app process sees the contract and nothing else:

    python -m local.launch ENV_FILE [NAME=VALUE ...] -- app_image/entrypoint.sh web

NAME=VALUE pairs override single variables of the file (each web process gets its own PORT).
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Parse `ENV_FILE [NAME=VALUE ...] -- command...` and exec the command."""
    args = sys.argv[1:] if argv is None else argv
    if "--" not in args or len(args) < 3:
        sys.exit("usage: python -m local.launch ENV_FILE [NAME=VALUE ...] -- command [args]")
    split = args.index("--")
    env_file, overrides, command = args[0], args[1:split], args[split + 1:]
    with open(env_file) as handle:
        env = {str(k): str(v) for k, v in json.load(handle).items()}
    for pair in overrides:
        name, _, value = pair.partition("=")
        env[name] = value
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
