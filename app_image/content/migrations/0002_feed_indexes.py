# Feed indexes in the order the feed queries read (issue 16). Built and dropped concurrently
# (writes go on); the single-column published_at index is replaced by article_feed_idx.

from django.db import migrations, models

from core.migration_ops import AddIndexConcurrentlySafely


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("content", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrentlySafely(
            model_name="article",
            index=models.Index(
                fields=["section", "-published_at", "-id"], name="article_section_feed_idx"
            ),
        ),
        AddIndexConcurrentlySafely(
            model_name="article",
            index=models.Index(fields=["-published_at", "-id"], name="article_feed_idx"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="article",
                    name="published_at",
                    field=models.DateTimeField(auto_now_add=True),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX CONCURRENTLY IF EXISTS "content_article_published_at_ab2ac7cb"',
                    reverse_sql='CREATE INDEX CONCURRENTLY IF NOT EXISTS '
                    '"content_article_published_at_ab2ac7cb" ON "content_article" ("published_at")',
                ),
            ],
        ),
    ]
