"""The sizing catalogue: what each ``plan`` means in CPU, memory, storage and replicas.

Components size their workloads from here and the finance ``estimate`` source prices the same
numbers, so the cost estimate and the plan cannot drift apart (``tests/test_costs_estimate.py``).
All CPU figures are millicores, memory MiB, storage GiB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PLANS = ("small", "medium", "large")


@dataclass(frozen=True)
class Size:
    """Requests of one container; limits are derived (CPU ×2, memory ×1: memory is never overcommitted)."""

    cpu_m: int
    memory_mi: int

    def scaled(self, factor: float) -> Size:
        return Size(round(self.cpu_m * factor), round(self.memory_mi * factor))

    def resources(self) -> dict:
        return {
            "requests": {"cpu": f"{self.cpu_m}m", "memory": f"{self.memory_mi}Mi"},
            "limits": {"cpu": f"{self.cpu_m * 2}m", "memory": f"{self.memory_mi}Mi"},
        }


@dataclass(frozen=True)
class Workload:
    """One workload of a module: per-replica size at plan ``small``, replicas per plan, volume size per plan.

    ``storage_gi`` is the size of its persistent volume (0 = none) per plan.
    """

    size: Size
    replicas: dict[str, int] = field(default_factory=lambda: {"small": 1, "medium": 2, "large": 3})
    storage_gi: dict[str, int] = field(default_factory=lambda: {"small": 0, "medium": 0, "large": 0})

    def size_for(self, plan: str) -> Size:
        return self.size.scaled(PLAN_RESOURCE_FACTOR[plan])


PLAN_RESOURCE_FACTOR = {"small": 1.0, "medium": 1.5, "large": 2.0}
"""Per-replica resources grow with the plan as well as the replica count."""


@dataclass(frozen=True)
class TenantPlan:
    """What a municipality's plan buys: namespace quota, database cluster, object storage."""

    quota_cpu_m: int
    quota_memory_mi: int
    quota_storage_gi: int
    quota_pods: int
    db_instances: int
    db_size: Size
    db_storage_gi: int
    db_wal_storage_gi: int
    bucket_quota_gi: int


TENANT_PLANS: dict[str, TenantPlan] = {
    "small": TenantPlan(
        quota_cpu_m=8000, quota_memory_mi=16384, quota_storage_gi=100, quota_pods=40,
        db_instances=2, db_size=Size(500, 1024), db_storage_gi=20, db_wal_storage_gi=5, bucket_quota_gi=100,
    ),
    "medium": TenantPlan(
        quota_cpu_m=16000, quota_memory_mi=32768, quota_storage_gi=300, quota_pods=80,
        db_instances=3, db_size=Size(1000, 2048), db_storage_gi=50, db_wal_storage_gi=10, bucket_quota_gi=500,
    ),
    "large": TenantPlan(
        quota_cpu_m=32000, quota_memory_mi=65536, quota_storage_gi=1000, quota_pods=160,
        db_instances=3, db_size=Size(2000, 4096), db_storage_gi=200, db_wal_storage_gi=20, bucket_quota_gi=2000,
    ),
}

LIMIT_RANGE_DEFAULT = Size(100, 128)
"""Requests given to a container that declares none (every container of ours declares its own)."""
LIMIT_RANGE_MAX = Size(4000, 8192)
"""No single container may ask for more than this."""
