"""The shared Keycloak: one (in production highly available) Keycloak with its own CloudNativePG cluster.

* bootstrap admin: user name and a 32-character password from pulumi-random in Secret
  ``names.KEYCLOAK_ADMIN_SECRET`` (keys ``username``/``password``); the Keycloak operator creates the master
  realm's admin from it, realm jobs log in with it; both values are secret stack outputs;
* database: CloudNativePG cluster ``keycloak-db`` (PostgreSQL from ``versions.IMAGES``), anti-affinity and a
  PodDisruptionBudget when it has more than one instance; continuous backup (WAL archive and a daily base
  backup) with the Barman Cloud plugin to bucket ``urban-keycloak-db-backups`` claimed from the Rook object
  store, or to ``storage.external.platformBucket`` of the external provider;
* Keycloak CR (``k8s.keycloak.org/v2beta1``): host ``id.<baseDomain>``, TLS ends at the shared Gateway
  (HTTPRoute on the Gateway's ``https-platform`` listener), plain HTTP inside the cluster behind
  NetworkPolicies; the operator's own Ingress and NetworkPolicy are off (the platform manages both);
* master realm hardening (``components/realm_policy.py``) applied declaratively by keycloak-config-cli
  (``realm_job``), re-run whenever the document changes.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import labels, names
from components.backup import EXTERNAL_KEYS, ROOK_KEYS, object_store_spec
from components.k8s import PULL_POLICY, child, http_route, meta, pdb, secret
from components.realm_policy import REALM_SECURITY
from components.shared.profile import Profile, spread
from components.shared.realm_job import KEYCLOAK_INTERNAL_URL, realm_job
from components.versions import IMAGES

MODULE = "identity"
ADMIN_USERNAME = "urban-admin"
DB_NAME = "keycloak"
DB_OWNER = "keycloak"
DB_APP_SECRET = f"{names.KEYCLOAK_DB_CLUSTER}-app"
"""Secret CloudNativePG creates for the application owner (keys ``username``, ``password``)."""
DB_POD_LABELS = {"cnpg.io/cluster": names.KEYCLOAK_DB_CLUSTER}
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
BACKUP_STORE = f"{names.KEYCLOAK_DB_CLUSTER}-backup"
BACKUP_BUCKET = "urban-keycloak-db-backups"
"""Bucket claimed from the Rook object store (storage mode ``rook-ceph``) for Keycloak's database backups."""
BACKUP_SCHEDULE = "0 30 1 * * *"
"""Daily base backup at 01:30 (CloudNativePG cron with seconds); WAL is archived continuously."""
BACKUP_RETENTION = "30d"

MASTER_REALM_OVERRIDES: dict[str, Any] = {
    # Realm jobs log in to the master realm over the in-cluster HTTP service (TLS ends at the Gateway):
    # `external` still requires TLS for every request from a public address.
    "sslRequired": "external",
    # The master realm only has platform administrators: no self-service password reset by e-mail.
    "resetPasswordAllowed": False,
    "rememberMe": False,
}


def keycloak_host(cfg) -> str:
    return f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}"


def master_realm() -> dict[str, Any]:
    """keycloak-config-cli document of the master realm: the platform's realm policy, master overrides."""
    return {"realm": "master", "enabled": True, **REALM_SECURITY, **MASTER_REALM_OVERRIDES}


def database_spec(cfg, profile: Profile) -> dict[str, Any]:
    instances = profile.database_instances
    return {
        "description": "Database of the shared Keycloak",
        "instances": instances,
        "imageName": IMAGES["postgresql"].ref,
        "imagePullPolicy": PULL_POLICY,
        "primaryUpdateStrategy": "unsupervised",
        "enablePDB": instances > 1,
        "priorityClassName": names.PRIORITY_PLATFORM,
        "bootstrap": {"initdb": {"database": DB_NAME, "owner": DB_OWNER, "dataChecksums": True}},
        "storage": {"size": f"{profile.database_storage_gi}Gi", "storageClass": cfg.storage.blockStorageClass},
        "resources": profile.database_size.resources(),
        "affinity": {
            "enablePodAntiAffinity": instances > 1,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "preferred",
        },
        "monitoring": {"enablePodMonitor": True},
        "plugins": [{"name": BARMAN_PLUGIN, "isWALArchiver": True, "parameters": {"barmanObjectName": BACKUP_STORE}}],
    }


def backup_store_spec(cfg, s3_endpoint: str) -> dict[str, Any]:
    """Barman Cloud ObjectStore: the claimed Rook bucket, or the external provider's platform bucket."""
    if cfg.storage.mode == "rook-ceph":
        return object_store_spec(f"s3://{BACKUP_BUCKET}/{names.KEYCLOAK_DB_CLUSTER}", s3_endpoint, BACKUP_BUCKET,
                                 ROOK_KEYS, BACKUP_RETENTION)
    ext = cfg.storage.external
    return object_store_spec(f"s3://{ext.platformBucket}/{names.KEYCLOAK_DB_CLUSTER}", s3_endpoint,
                             ext.credentialsSecret, EXTERNAL_KEYS, BACKUP_RETENTION)


KEYCLOAK_UID = 1000
"""``USER 1000`` of the Keycloak image (keycloak/keycloak quarkus/container/Dockerfile; files owned 1000:0)."""


def keycloak_pod_template() -> dict[str, Any]:
    """``spec.unsupported.podTemplate``: the Pod Security ``restricted`` settings of the Keycloak pods.

    The Keycloak operator 26.x builds its StatefulSet on this template (``KeycloakDeploymentDependentResource.
    createBaseDeployment``: ``withNewTemplateLike(podTemplate)``); it then edits the first container (name
    ``keycloak``, image, args, probes, ports, env) but keeps its ``securityContext`` and the pod's, and sets neither
    itself: without this template ``keycloak-0`` is refused in ``urban-identity``.

    The root filesystem stays writable: the operator's image is the stock one, which re-augments at every start
    (``startOptimized: false`` in :func:`keycloak_spec`) and writes the build into ``/opt/keycloak/lib`` and
    ``/opt/keycloak/data``; ``restricted`` does not require a read-only root.
    """
    return {
        "metadata": {"labels": labels.cost_labels(labels.active_scope(), MODULE)},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": KEYCLOAK_UID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "keycloak",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "runAsNonRoot": True,
                    "readOnlyRootFilesystem": False,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }],
        },
    }


def keycloak_spec(cfg, profile: Profile) -> dict[str, Any]:
    instances = profile.keycloak_instances
    spec: dict[str, Any] = {
        "instances": instances,
        "image": IMAGES["keycloak"].ref,
        # The operator takes any `image` for a custom, already augmented one and starts it with `--optimized`
        # unless told otherwise; then every build-time option (db vendor, health, metrics) is ignored
        # (keycloak.org/operator/customizing-keycloak). The stock image must build at start.
        "startOptimized": False,
        "db": {
            "vendor": "postgres",
            "host": f"{names.KEYCLOAK_DB_CLUSTER}-rw",
            "port": 5432,
            "database": DB_NAME,
            "usernameSecret": {"name": DB_APP_SECRET, "key": "username"},
            "passwordSecret": {"name": DB_APP_SECRET, "key": "password"},
        },
        "bootstrapAdmin": {"user": {"secret": names.KEYCLOAK_ADMIN_SECRET}},
        "http": {"httpEnabled": True, "httpPort": names.KEYCLOAK_HTTP_PORT},
        "hostname": {"hostname": f"https://{keycloak_host(cfg)}", "backchannelDynamic": True},
        "proxy": {"headers": "xforwarded"},
        "ingress": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "resources": profile.keycloak_size.resources(),
        "additionalOptions": [
            {"name": "metrics-enabled", "value": "true"},
            {"name": "health-enabled", "value": "true"},
        ],
        "scheduling": {"priorityClassName": names.PRIORITY_PLATFORM},
        "unsupported": {"podTemplate": keycloak_pod_template()},
    }
    if instances > 1:
        spec["scheduling"]["affinity"] = spread(names.KEYCLOAK_POD_LABELS)
    return spec


class Identity(pulumi.ComponentResource):
    """Keycloak, its database, its admin credentials and the hardened master realm."""

    def __init__(self, name: str, cfg, profile: Profile, namespace: pulumi.Resource,
                 operators, storage, gateway: pulumi.Resource, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:identity", name, None, opts)
        ns = names.NS_IDENTITY
        in_ns = pulumi.ResourceOptions(depends_on=[namespace])

        self.admin_password = random.RandomPassword(
            "keycloak-admin-password", length=32, special=True, override_special="-_.:+",
            min_lower=2, min_upper=2, min_numeric=2, min_special=2, opts=child(self))
        self.admin_secret = secret(self, names.KEYCLOAK_ADMIN_SECRET, ns,
                                   {"username": ADMIN_USERNAME, "password": self.admin_password.result},
                                   opts=pulumi.ResourceOptions(depends_on=[namespace],
                                                               additional_secret_outputs=["stringData"]))
        backup_deps: list[pulumi.Resource] = [namespace, operators.barman]
        if cfg.storage.mode == "rook-ceph":
            self.backup_bucket = k8s.apiextensions.CustomResource(
                BACKUP_BUCKET, api_version="objectbucket.io/v1alpha1", kind="ObjectBucketClaim",
                metadata=meta(BACKUP_BUCKET, ns),
                spec={"bucketName": BACKUP_BUCKET, "storageClassName": names.OBJECT_BUCKET_STORAGE_CLASS},
                opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, storage.bucket_class],
                                                        retain_on_delete=True)))
            backup_deps.append(self.backup_bucket)
        self.backup_store = k8s.apiextensions.CustomResource(
            BACKUP_STORE, api_version="barmancloud.cnpg.io/v1", kind="ObjectStore",
            metadata=meta(BACKUP_STORE, ns), spec=backup_store_spec(cfg, storage.outputs["s3Endpoint"]),
            opts=child(self, pulumi.ResourceOptions(depends_on=backup_deps)))
        self.database = k8s.apiextensions.CustomResource(
            names.KEYCLOAK_DB_CLUSTER,
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata=meta(names.KEYCLOAK_DB_CLUSTER, ns),
            spec=database_spec(cfg, profile),
            # In rook-ceph mode the block StorageClass of its volumes comes from the storage component.
            opts=child(self, pulumi.ResourceOptions(
                depends_on=[namespace, operators.cnpg, self.backup_store,
                            *([storage.block_class] if storage.block_class else [])],
                protect=True, retain_on_delete=True)),
        )
        self.scheduled_backup = k8s.apiextensions.CustomResource(
            f"{names.KEYCLOAK_DB_CLUSTER}-daily", api_version="postgresql.cnpg.io/v1", kind="ScheduledBackup",
            metadata=meta(f"{names.KEYCLOAK_DB_CLUSTER}-daily", ns),
            spec={"schedule": BACKUP_SCHEDULE, "backupOwnerReference": "self", "immediate": True,
                  "cluster": {"name": names.KEYCLOAK_DB_CLUSTER}, "method": "plugin",
                  "pluginConfiguration": {"name": BARMAN_PLUGIN}},
            opts=child(self, pulumi.ResourceOptions(depends_on=[self.database])))
        self.keycloak = k8s.apiextensions.CustomResource(
            names.KEYCLOAK_NAME,
            api_version="k8s.keycloak.org/v2beta1",
            kind="Keycloak",
            # The provider waits for the operator's Ready condition before dependants (realm jobs) start.
            metadata=meta(names.KEYCLOAK_NAME, ns, annotations={"pulumi.com/waitFor": "condition=Ready"}),
            spec=keycloak_spec(cfg, profile),
            opts=child(self, pulumi.ResourceOptions(
                depends_on=[namespace, operators.keycloak, self.database, self.admin_secret])),
        )
        self.pdbs = []
        if profile.keycloak_instances > 1:
            self.pdbs.append(pdb(self, names.KEYCLOAK_NAME, ns, names.KEYCLOAK_POD_LABELS, opts=in_ns))
        self.route = http_route(self, names.KEYCLOAK_NAME, ns, keycloak_host(cfg), names.KEYCLOAK_SERVICE,
                                names.KEYCLOAK_HTTP_PORT, names.GATEWAY_NAME, names.NS_GATEWAY,
                                section=names.HTTPS_LISTENER_PLATFORM,
                                opts=pulumi.ResourceOptions(depends_on=[namespace, gateway]))
        self.master_secret, self.master_job = realm_job(
            self, "realm-master", json.dumps(master_realm(), sort_keys=True, indent=1), namespace=ns,
            opts=pulumi.ResourceOptions(depends_on=[self.keycloak, self.admin_secret]))
        self.outputs: dict[str, Any] = {
            "keycloakUrl": f"https://{keycloak_host(cfg)}",
            "keycloakInternalUrl": KEYCLOAK_INTERNAL_URL,
            "keycloakNamespace": ns,
            "keycloakAdminSecret": names.KEYCLOAK_ADMIN_SECRET,
            "keycloakAdminUsername": pulumi.Output.secret(ADMIN_USERNAME),
            "keycloakAdminPassword": pulumi.Output.secret(self.admin_password.result),
        }
        self.register_outputs({})
