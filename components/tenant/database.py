"""The municipality's own PostgreSQL/PostGIS cluster (CloudNativePG), its databases, roles and backups."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from catalogue import names
from catalogue.schema import Tenant
from catalogue.sizing import TENANT_PLANS
from catalogue.versions import IMAGES
from components import k8s as kb
from components.backup import (
    EXTERNAL_KEYS,
    ROOK_KEYS,
    SERVER_SIDE_ENCRYPTION,
    object_store_spec,
    offsite_credentials,
    offsite_secret,
    scheduled_backup_spec,
    wal_archiver,
)
from components.base import DatabaseInfo, TenantContext
from components.tenant.netpol import from_pods, to_api_server, to_backup

GEODATA = "geodata"
"""The municipality's own spatial database (PostGIS), bootstrapped with the cluster."""
READONLY_ROLE = "geodata_readonly"
"""Login role with read access to ``geodata`` only (dashboards datasource, exports)."""
BACKUP_STORE = "backup-store"
"""The ObjectStore the cluster archives WAL and base backups to (and a restore reads from by default)."""
BACKUP_SCHEDULE = "0 0 2 * * *"
"""Daily full backup at 02:00 (CloudNativePG cron format with seconds); WAL is archived continuously."""


def _role_comment(role: str, readers: list[str]) -> str:
    if role == READONLY_ROLE:
        return "read-only access to geodata"
    if role in readers:
        return f"login without privileges; the module grants read access to {role.removesuffix('_readonly')}"
    return f"owner of database {role}"


def cluster_base_spec(tenant: Tenant, plan_name: str, storage_class) -> dict:
    """What every PostGIS cluster of a municipality has, the running one and a recovery cluster beside it
    (``urbanstack/ops/restore.py``): image, size, storage and parameters by plan; no bootstrap, roles or plugins."""
    plan = TENANT_PLANS[plan_name]
    return {
        "description": f"PostGIS cluster of {tenant.name}",
        "instances": plan.db_instances,
        "imageName": IMAGES["postgis"].ref,
        "imagePullPolicy": kb.PULL_POLICY,
        "primaryUpdateStrategy": "unsupervised",
        "enablePDB": plan.db_instances > 1,
        "priorityClassName": names.PRIORITY_TENANT,
        "storage": {"size": f"{plan.db_storage_gi}Gi", "storageClass": storage_class},
        "walStorage": {"size": f"{plan.db_wal_storage_gi}Gi", "storageClass": storage_class},
        "resources": plan.db_size.resources(),
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname",
                     "podAntiAffinityType": "preferred"},
        "postgresql": {"parameters": {"password_encryption": "scram-sha-256", "log_connections": "on"}},
    }


def uses_offsite(tenant: Tenant, offsite) -> bool:
    """The municipality's backups go to the operator's off-site target (and its stack needs the key pair)."""
    return tenant.backup.target is None and offsite is not None


def backup_store(tenant: Tenant, bucket, offsite, s3_mode: str = "rook-ceph") -> dict:
    """The ObjectStore spec of the municipality's backups, in this order of precedence:

    1. its own S3 target (``backup.target`` of the tenant file, its own Secret);
    2. the operator's off-site target (shared config ``backup.offsite``; Secret ``backup-offsite``, which the
       municipality's stack creates from its config secrets), outside the platform: required for profile
       ``production`` (``catalogue/shared_config.py``);
    3. its bucket on the platform (dev).

    Server-side encryption (``components/backup.py``) for every target outside the cluster: 1, 2, and 3 in
    storage mode ``external``; not for the in-cluster RGW (plain HTTP).
    """
    from catalogue.shared_config import OFFSITE_SECRET

    retention = f"{tenant.backup.retentionDays}d"
    target = tenant.backup.target
    if target is not None:
        return object_store_spec(f"s3://{target.bucket}/{tenant.slug}/cnpg", str(target.endpoint).rstrip("/"),
                                 target.credentialsSecret, EXTERNAL_KEYS, retention)
    if offsite is not None:
        return object_store_spec(f"s3://{offsite.bucket}/{tenant.slug}/cnpg", str(offsite.endpoint).rstrip("/"),
                                 OFFSITE_SECRET, EXTERNAL_KEYS, retention)
    return object_store_spec(bucket.url_for("cnpg"), bucket.endpoint, bucket.secret, ROOK_KEYS, retention,
                             encryption=SERVER_SIDE_ENCRYPTION if s3_mode == "external" else None)


class Database(pulumi.ComponentResource):
    """One CloudNativePG ``Cluster`` with PostGIS, a ``Database`` and owner role per module that needs one,
    continuous backup with the Barman Cloud plugin and a daily ``ScheduledBackup``."""

    def __init__(self, name: str, ctx: TenantContext, databases: dict[str, tuple[str, ...]], bucket,
                 opts: pulumi.ResourceOptions | None = None, readonly: tuple[str, ...] = ()):
        """``databases``: database name -> PostgreSQL extensions it needs (created by the operator);
        ``readonly``: databases that also get a privilege-less login role ``<db>_readonly``."""
        super().__init__("urbanstack:tenant:database", name, None, opts)
        tenant, ns = ctx.tenant, ctx.namespace
        in_ns = ctx.in_namespace
        roles = [GEODATA, *databases]
        readers = [f"{db}_readonly" for db in readonly]
        secrets: dict[str, str] = {}
        role_secrets: list[k8s.core.v1.Secret] = []
        for role in [*roles, READONLY_ROLE, *readers]:
            password = random.RandomPassword(f"{role}-password", length=32, special=False,
                                             opts=pulumi.ResourceOptions(parent=self))
            secret = k8s.core.v1.Secret(
                names.role_secret_name(role), metadata=kb.meta(names.role_secret_name(role), ns),
                type="kubernetes.io/basic-auth",
                string_data={"username": role, "password": password.result},
                opts=kb.child(self, in_ns),
            )
            secrets[role] = names.role_secret_name(role)
            role_secrets.append(secret)

        store = backup_store(tenant, bucket, ctx.shared.offsite_backup, ctx.shared.s3_mode)
        store_deps: list[pulumi.Resource] = []
        if uses_offsite(tenant, ctx.shared.offsite_backup):
            # The stack checked the key pair before registering anything (urbanstack/engine/stacks.py).
            store_deps.append(offsite_secret(self, ns, offsite_credentials(tenant.slug, "its database backup"),
                                             opts=in_ns))
        self.object_store = k8s.apiextensions.CustomResource(
            BACKUP_STORE, api_version="barmancloud.cnpg.io/v1", kind="ObjectStore",
            metadata=kb.meta(BACKUP_STORE, ns), spec=store,
            opts=kb.child(self, pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=store_deps))),
        )
        self.cluster = k8s.apiextensions.CustomResource(
            names.DB_CLUSTER, api_version="postgresql.cnpg.io/v1", kind="Cluster",
            metadata=kb.meta(names.DB_CLUSTER, ns),
            spec={
                **cluster_base_spec(tenant, ctx.plan, ctx.shared.storage_class),
                "bootstrap": {"initdb": {
                    "database": GEODATA, "owner": GEODATA,
                    "secret": {"name": secrets[GEODATA]},
                    "postInitSQL": [f"CREATE ROLE {READONLY_ROLE} LOGIN"],
                    "postInitApplicationSQL": [
                        "CREATE EXTENSION IF NOT EXISTS postgis",
                        f"GRANT CONNECT ON DATABASE {GEODATA} TO {READONLY_ROLE}",
                        f"GRANT USAGE ON SCHEMA public TO {READONLY_ROLE}",
                        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READONLY_ROLE}",
                        f"ALTER DEFAULT PRIVILEGES FOR ROLE {GEODATA} IN SCHEMA public GRANT SELECT ON TABLES TO {READONLY_ROLE}",
                    ],
                }},
                "managed": {"roles": [
                    {"name": role, "ensure": "present", "login": True, "inherit": True,
                     "passwordSecret": {"name": secrets[role]}, "comment": _role_comment(role, readers)}
                    for role in [*databases, READONLY_ROLE, *readers]
                ]},
                "plugins": [wal_archiver(BACKUP_STORE)],
            },
            # The cluster is the municipality's data: never deleted by a Pulumi operation.
            opts=kb.child(self, pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(
                # after the role Secrets its bootstrap and managed roles name (the operator reads them)
                protect=True, retain_on_delete=True, depends_on=[self.object_store, *role_secrets]))),
        )
        for db, extensions in databases.items():
            spec = {"name": db, "owner": db, "cluster": {"name": names.DB_CLUSTER}, "ensure": "present",
                    "databaseReclaimPolicy": "retain"}
            if extensions:
                spec["extensions"] = [{"name": ext, "ensure": "present"} for ext in extensions]
            k8s.apiextensions.CustomResource(
                f"db-{db}", api_version="postgresql.cnpg.io/v1", kind="Database",
                metadata=kb.meta(f"db-{db}", ns),
                spec=spec,
                opts=kb.child(self, pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(
                    protect=True, retain_on_delete=True, depends_on=[self.cluster]))),
            )
        k8s.apiextensions.CustomResource(
            "daily-backup", api_version="postgresql.cnpg.io/v1", kind="ScheduledBackup",
            metadata=kb.meta("daily-backup", ns),
            spec=scheduled_backup_spec(names.DB_CLUSTER, BACKUP_SCHEDULE),
            opts=kb.child(self, pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[self.cluster]))),
        )
        # Network: instances replicate among themselves; the operator and the plugin manage them;
        # instances archive to S3 and talk to the Kubernetes API (instance manager).
        db_pods = {"cnpg.io/cluster": names.DB_CLUSTER}
        kb.network_policy(
            self, "database", ns, db_pods,
            ingress=[
                from_pods(db_pods, names.DB_PORT, 8000),
                # The municipality's own apps (their egress policies say which may connect).
                {"from": [kb.peer(None, {})], "ports": kb.tcp(names.DB_PORT)},
                {"from": [kb.peer(names.NS_OPERATORS, {})], "ports": kb.tcp(names.DB_PORT, 8000)},
            ],
            egress=[
                {"to": [kb.peer(None, db_pods)], "ports": kb.tcp(names.DB_PORT, 8000)},
                kb.dns_egress(),
                to_backup(ctx),
                to_api_server(ctx),
            ],
            opts=in_ns,
        )
        self.info = DatabaseInfo(
            cluster=names.DB_CLUSTER, host=f"{names.DB_CLUSTER}-rw.{ns}.svc", port=names.DB_PORT,
            credentials={db: secrets[db] for db in [*roles, *readers]}, readonly_secret=secrets[READONLY_ROLE],
        )
        self.register_outputs({"cluster": names.DB_CLUSTER, "host": self.info.host})
