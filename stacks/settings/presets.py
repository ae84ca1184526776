"""Tier presets: what dev, staging and prod change from the model's baseline defaults.

Keys are config keys (as a stack file writes them), so a preset reads like a stack file.
"""

from __future__ import annotations

from typing import Any

TIER_PRESETS: dict[str, dict[str, Any]] = {
    "dev": {},
    "staging": {
        "azCount": 2,
        "natStrategy": "single",
        "dbReplicas": 1,
        "dbBackupRetentionDays": 3,
        "webPoolMax": 4,
        "workersPoolMax": 4,
        "webMaxReplicas": 6,
        "workerDefaultMax": 4,
        "workerPriorityMax": 4,
        "workerLowMin": 0,
        "workerLowMax": 2,
        "workerLowActivationListLength": 5,
        "domain": "staging.example.com",
    },
    "prod": {
        "azCount": 3,
        "natStrategy": "per-az",
        "dbInstanceClass": "db.r7g.large",
        "dbReplicas": 2,
        "dbMultiAz": True,
        "dbDeletionProtection": True,
        "dbBackupRetentionDays": 14,
        "cacheNodeType": "cache.r7g.large",
        "brokerNodeType": "cache.r7g.large",
        "systemPoolInstanceTypes": ["m7i.large"],
        "systemPoolMin": 2,
        "systemPoolDesired": 2,
        "webPoolInstanceTypes": ["c7i.xlarge", "c6i.xlarge"],
        "webPoolMin": 3,
        "webPoolDesired": 3,
        "webPoolMax": 12,
        "workersPoolInstanceTypes": ["m7i.xlarge", "m6i.xlarge"],
        "workersPoolMin": 2,
        "workersPoolDesired": 2,
        "workersPoolMax": 12,
        "webMinReplicas": 3,
        "webMaxReplicas": 30,
        "webCpuRequest": "1",
        "webCpuLimit": "2",
        "webMemoryRequest": "1Gi",
        "webMemoryLimit": "1Gi",
        "workerDefaultConcurrency": 4,
        "workerDefaultMin": 2,
        "workerDefaultMax": 12,
        "workerPriorityConcurrency": 4,
        "workerPriorityMin": 2,
        "workerPriorityMax": 10,
        "workerPriorityListLength": 5,
        "workerLowMin": 0,
        "workerLowMax": 6,
        "workerLowListLength": 50,
        "workerLowActivationListLength": 10,
        "edgeEnabled": True,
        "domain": "www.example.com",
        "ecrKeepImages": 100,
    },
}
