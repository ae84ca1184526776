"""The pre-deploy check of migrations: squawk over their SQL and the backward-compat check.

Each unsafe case is a migration added to a copy of the app; the lint (what `make lint` runs)
must fail with squawk's or the check's message, and the shipped migrations must pass.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.dataservices import DataServices
from local.migration_lint import lint as lint_with

Lint = Callable[[Path], tuple[int, str]]

APP_DIR = Path(__file__).resolve().parents[2] / "app_image"

HEADER = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]
"""


@pytest.fixture(scope="module")
def lint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lint]:
    """The lint of `make lint`, asking one throwaway, never-migrated database for every case."""
    services = DataServices(tmp_path_factory.mktemp("lint") / "services")
    services.start()
    try:
        yield lambda app_dir: lint_with(app_dir, database_url=services.direct_primary_url)
    finally:
        services.remove()


def _app_with(tmp_path: Path, body: str) -> Path:
    copy = tmp_path / "app"
    shutil.copytree(APP_DIR, copy, ignore=shutil.ignore_patterns("staticfiles", "__pycache__"))
    latest = sorted(p.name for p in (copy / "content" / "migrations").glob("0*.py"))[-1]
    header = HEADER.replace("0001_initial", latest.removesuffix(".py"))
    (copy / "content" / "migrations" / "0999_unsafe.py").write_text(
        header + textwrap.indent(textwrap.dedent(body), "    "))
    return copy


def test_the_shipped_migrations_pass():
    # `make lint` itself: its own throwaway services, started and removed
    status, text = lint_with(APP_DIR)
    assert status == 0, text
    assert text.endswith("all safe")
    assert "migrations: 0 checked" not in text, text  # safe because nothing was read


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # a plain CREATE INDEX locks the table against writes while it builds
            """
            operations = [migrations.AddIndex(
                "article", models.Index(fields=["title"], name="article_title_idx"))]
            """,
            "require-concurrent-index-creation",
        ),
        (
            """
            operations = [migrations.RemoveField("article", "body")]
            """,
            "content.0999_unsafe: drops column article.body that the running version still",
        ),
        (
            """
            operations = [migrations.RenameField("article", "title", "headline")]
            """,
            "content.0999_unsafe: renames column article.title -> headline in place",
        ),
        (
            """
            operations = [migrations.AddField(
                "article", "summary", models.TextField())]
            """,
            "content.0999_unsafe: adds column article.summary as NOT NULL without a database",
        ),
        (
            """
            operations = [migrations.AlterField(
                "article", "title", models.CharField(max_length=80))]
            """,
            "changes column article.title from varchar(200) to varchar(80)",
        ),
        (
            """
            operations = [migrations.AddConstraint("article", models.CheckConstraint(
                check=~models.Q(title=""), name="article_title_not_empty"))]
            """,
            "adds constraint article_title_not_empty on article: the running version",
        ),
        (
            """
            operations = [migrations.RunPython(lambda apps, schema: None)]
            """,
            "runs Python code with no reverse",
        ),
        (  # what runs is the database side of SeparateDatabaseAndState
            """
            operations = [migrations.SeparateDatabaseAndState(
                database_operations=[migrations.RunSQL("SELECT 1")])]
            """,
            "runs SQL with no reverse",
        ),
    ],
    ids=["index-not-concurrent", "drop-column", "rename-column", "not-null-no-default",
         "narrowed-type", "new-constraint", "python-no-reverse", "sql-no-reverse"],
)
def test_an_unsafe_migration_fails_the_lint_with_its_reason(
    lint: Lint, tmp_path, body, expected
):
    status, text = lint(_app_with(tmp_path, body))
    assert status == 1
    assert expected in text, text
    assert text.endswith("problems found")


def test_a_nullable_column_then_a_concurrent_index_pass(lint: Lint, tmp_path):
    copy = _app_with(tmp_path, """
        operations = [migrations.AddField("article", "subtitle", models.TextField(null=True))]
        """)
    (copy / "content" / "migrations" / "1000_index.py").write_text(textwrap.dedent("""\
        from django.db import migrations, models

        from core.migration_ops import AddIndexConcurrentlySafely


        class Migration(migrations.Migration):
            atomic = False
            dependencies = [("content", "0999_unsafe")]
            operations = [AddIndexConcurrentlySafely(
                "article", models.Index(fields=["title"], name="article_title_idx"))]
        """))
    status, text = lint(copy)
    assert status == 0, text


def test_the_contract_step_of_an_expand_contract_change_may_drop(lint: Lint, tmp_path):
    body = """
        contract_step = True
        operations = [migrations.RemoveField("article", "body")]
        """
    status, text = lint(_app_with(tmp_path, body))
    assert status == 0, text


def test_widening_a_varchar_and_a_contract_step_constraint_are_compatible(lint: Lint, tmp_path):
    # squawk still warns on both (the ALTER TYPE and a constraint not added NOT VALID): its rules
    # are about locks; this is the check of what the running version can still do.
    body = """
        contract_step = True  # the code already writes only valid rows
        operations = [
            migrations.AlterField("article", "title", models.CharField(max_length=300)),
            migrations.AddConstraint("article", models.CheckConstraint(
                check=~models.Q(title=""), name="article_title_not_empty")),
            migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop),
        ]
        """
    _, text = lint(_app_with(tmp_path, body))
    assert "content__0999_unsafe.sql" in text, text  # squawk read it: the check ran on it
    for message in ("changes column", "adds constraint", "with no reverse"):
        assert message not in text, text
