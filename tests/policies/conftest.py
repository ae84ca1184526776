"""The policy tests reuse the infra harness: a mocked run of each shipped stack."""

from tests.infra.conftest import stack_run

__all__ = ["stack_run"]
