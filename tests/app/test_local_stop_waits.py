"""The local topology stops each worker pool no sooner than its queue's hard time limit."""

from __future__ import annotations

from local.supervise import stop_wait_seconds
from local.topology import WORKER_QUEUES, Topology


def test_worker_stop_waits_cover_each_queues_hard_limit(django_app):
    from django.conf import settings

    processes = {p.name: p for p in Topology().processes()}
    for queue in WORKER_QUEUES:
        hard_limit = settings.CELERY_TIME_LIMITS[queue][1]
        # supervisord SIGKILLs after stopwaitsecs: a warm shutdown must get the whole limit.
        assert stop_wait_seconds(processes[f"worker-{queue}"]) > hard_limit, queue
