#!/usr/bin/env python
"""Django's command-line utility; a broken environment prints one message, not a traceback."""

import os
import sys


def main() -> None:
    """Run a management command with production settings unless told otherwise."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    from django.core.management import execute_from_command_line

    from config.env import EnvironmentContractError

    try:
        execute_from_command_line(sys.argv)
    except EnvironmentContractError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
