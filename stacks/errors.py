"""The one error a user sees for bad stack configuration."""

from __future__ import annotations

import pulumi


class ConfigError(pulumi.RunError):
    """Bad stack configuration: one line per problem naming the key, value and what is allowed.

    Subclassing ``pulumi.RunError`` makes the Pulumi CLI print the message without a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
