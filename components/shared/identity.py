"""The shared Keycloak: one (in production highly available) Keycloak with its own CloudNativePG cluster.

* bootstrap admin: user name and a 32-character password from pulumi-random in Secret
  ``names.KEYCLOAK_ADMIN_SECRET`` (keys ``username``/``password``); the Keycloak operator creates the master
  realm's admin from it (a person: the master realm's browser flow demands a one-time code, and the
  password alone gets no token, see :func:`master_realm`); both values are secret stack outputs;
* bootstrap service account: ``names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET`` (``client-id``/``client-secret``,
  Keycloak CR ``spec.bootstrapAdmin.service``); the master realm job logs in with it, and so does each
  municipality's bootstrap job (``components/tenant/identity.py``), which creates that municipality's empty realm
  and its realm-job client in the master realm. Nothing here is per municipality: a join changes no object of
  this stack (docs/decisions/0013-realm-bootstrap-in-the-municipality-stack.md);
* database: CloudNativePG cluster ``keycloak-db`` (PostgreSQL from ``versions.IMAGES``), anti-affinity and a
  PodDisruptionBudget when it has more than one instance; continuous backup (WAL archive and a daily base
  backup) with the Barman Cloud plugin to the operator's off-site target (``backup.offsite``, required in
  production; :func:`backup_store_spec`), in dev without one to bucket ``urban-keycloak-db-backups`` claimed from
  the Rook object store or to ``storage.external.platformBucket``; restored with ``urbanstack platform restore``
  (``urbanstack/ops/restore.py``);
* Keycloak CR (``k8s.keycloak.org/v2beta1``, the storage version of operator 26.8.0; docs/decisions/0011): host ``id.<baseDomain>``, TLS ends at the shared Gateway,
  plain HTTP inside the cluster behind NetworkPolicies; the operator's own Ingress and NetworkPolicy are off
  (the platform manages both). The public host publishes only what Keycloak 26.4's reverse-proxy guide
  ("Exposed path recommendations", keycloak.org/server/reverseproxy) lists as exposed: ``/realms/``,
  ``/resources/``, ``/.well-known/`` (not ``/``, ``/admin/``, ``/metrics``, ``/health``), and not the master
  realm. The admin console and the master realm are served at ``id-admin.<baseDomain>`` (listener
  ``https-admin``; Keycloak ``hostname-admin`` and the master realm's ``frontendUrl``), open only to the
  client addresses of ``keycloakAdmin.allowedSourceRanges`` (Envoy Gateway ``SecurityPolicy`` authorization,
  default deny);
* master realm hardening (``catalogue/realm_policy.py``) applied declaratively by keycloak-config-cli
  (``realm_job``), re-run whenever the document changes.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from catalogue import labels, names
from catalogue.realm_policy import REALM_SECURITY
from catalogue.shared_config import OFFSITE_SECRET, SharedConfig
from catalogue.versions import IMAGES
from components.backup import (
    EXTERNAL_KEYS,
    ROOK_KEYS,
    object_store_spec,
    offsite_credentials,
    offsite_secret,
    scheduled_backup_spec,
    wal_archiver,
)
from components.k8s import PULL_POLICY, child, meta, pdb, secret
from components.shared.operators import Operators
from components.shared.profile import Profile, spread
from components.shared.realm_job import KEYCLOAK_INTERNAL_URL, Login, realm_job
from components.shared.storage import Storage

MODULE = "identity"
ADMIN_USERNAME = "urban-admin"
DB_NAME = "keycloak"
DB_OWNER = "keycloak"
DB_APP_SECRET = f"{names.KEYCLOAK_DB_CLUSTER}-app"
"""Secret CloudNativePG creates for the application owner (keys ``username``, ``password``)."""
DB_POD_LABELS = {"cnpg.io/cluster": names.KEYCLOAK_DB_CLUSTER}
BACKUP_STORE = f"{names.KEYCLOAK_DB_CLUSTER}-backup"
BACKUP_BUCKET = "urban-keycloak-db-backups"
"""Bucket claimed from the Rook object store (storage mode ``rook-ceph``) for Keycloak's database backups."""
BACKUP_SCHEDULE = "0 30 1 * * *"
"""Daily base backup at 01:30 (CloudNativePG cron with seconds); WAL is archived continuously."""
BACKUP_RETENTION = "30d"
OFFSITE_PREFIX = f"{names.NS_IDENTITY}/cnpg"
"""Where Keycloak's database goes in the off-site bucket (beside each municipality's ``<slug>/cnpg``); the
plugin adds the server name ``keycloak-db``."""

MASTER_REALM_OVERRIDES: dict[str, Any] = {
    # Realm jobs log in to the master realm over the in-cluster HTTP service (TLS ends at the Gateway):
    # `external` still requires TLS for every request from a public address.
    "sslRequired": "external",
    # The master realm only has platform administrators: no self-service password reset by e-mail.
    "resetPasswordAllowed": False,
    "rememberMe": False,
}


BOOTSTRAP_SERVICE_CLIENT = "urban-platform-admin"
"""Client id of the bootstrap service account (the login of the master realm job and of the municipalities'
bootstrap jobs)."""
MASTER_CACHE_KEY = "platform"
"""keycloak-config-cli ``import.cache.key`` of the master realm job. keycloak-config-cli 6.5.0 keeps its remote
state as attributes of the imported realm, one set per cache key (``StateRepository.getCustomAttributeKey``:
``de.adorsys.keycloak.config.state-<cache key>-<entity>-<n>``), and deletes only clients missing from the document
that are listed in that state (``ClientImportService.deleteClientsMissingInImport``, ``import.managed.client`` full,
remote state on). Under its own key this job deletes the clients it once listed and removed (none today besides
``admin-cli``, a default client it never deletes), never a municipality's realm-job client, which its bootstrap
job lists under ``bootstrap-<slug>``. Not ``default``: before docs/decisions/0013 this job listed every
``realm-job-<slug>`` under ``default``, and with that state it would delete them all at its first run without them."""
BROWSER_FLOW = "browser with one-time code"

MASTER_BROWSER_FLOWS: list[dict[str, Any]] = [
    # Like Keycloak's built-in "browser" flow, but the one-time code (OTP) is REQUIRED, not conditional: a user
    # without a configured authenticator is sent through the CONFIGURE_TOTP required action at the next login
    # (Keycloak server administration guide, "Authentication flows": a REQUIRED execution the user has not set up
    # triggers its required action). Representation as in keycloak-config-cli 6.4.0's own test
    # src/test/resources/import-files/auth-flows/16_update_realm__add_and_set_custom_browser-flow.json.
    {"alias": BROWSER_FLOW, "description": "Password and one-time code for every login to the master realm",
     "providerId": "basic-flow", "topLevel": True, "builtIn": False,
     "authenticationExecutions": [
         {"authenticator": "auth-cookie", "authenticatorFlow": False, "requirement": "ALTERNATIVE",
          "priority": 10, "userSetupAllowed": False},
         {"flowAlias": f"{BROWSER_FLOW} forms", "authenticatorFlow": True, "requirement": "ALTERNATIVE",
          "priority": 20, "userSetupAllowed": False},
     ]},
    {"alias": f"{BROWSER_FLOW} forms", "description": "Password, then one-time code",
     "providerId": "basic-flow", "topLevel": False, "builtIn": False,
     "authenticationExecutions": [
         {"authenticator": "auth-username-password-form", "authenticatorFlow": False, "requirement": "REQUIRED",
          "priority": 10, "userSetupAllowed": False},
         {"authenticator": "auth-otp-form", "authenticatorFlow": False, "requirement": "REQUIRED",
          "priority": 20, "userSetupAllowed": False},
     ]},
]


PUBLIC_PATHS = ("/realms", "/resources", "/.well-known")
"""Keycloak 26.4 reverse-proxy guide, "Exposed path recommendations": the paths to expose (Gateway API
``PathPrefix`` matches whole path elements: ``/realms`` matches ``/realms/x``, not ``/realmsx``)."""
MASTER_REALM_PATH = "/realms/master"
ADMIN_ROUTE = "keycloak-admin"
MASTER_CLOSED_ROUTE = "keycloak-master-closed"
SECURITY_POLICY_API = "gateway.envoyproxy.io/v1alpha1"


def keycloak_host(cfg: SharedConfig) -> str:
    return f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}"


def admin_host(cfg: SharedConfig) -> str:
    return f"{names.KEYCLOAK_ADMIN_HOST_PREFIX}.{cfg.baseDomain}"


def _route(host: str, section: str, paths: tuple[str, ...]) -> dict[str, Any]:
    return {
        "parentRefs": [{"name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY, "sectionName": section}],
        "hostnames": [host],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": p}} for p in paths],
                   "backendRefs": [{"name": names.KEYCLOAK_SERVICE, "port": names.KEYCLOAK_HTTP_PORT}]}],
    }


def public_route_spec(cfg: SharedConfig) -> dict[str, Any]:
    """``id.<baseDomain>``: the recommended public paths only."""
    return _route(keycloak_host(cfg), names.HTTPS_LISTENER_PLATFORM, PUBLIC_PATHS)


def master_closed_route_spec(cfg: SharedConfig) -> dict[str, Any]:
    """``id.<baseDomain>/realms/master``: a longer prefix than ``/realms`` (it wins, Gateway API HTTPRoute
    precedence), attached to a SecurityPolicy that denies every request."""
    return _route(keycloak_host(cfg), names.HTTPS_LISTENER_PLATFORM, (MASTER_REALM_PATH,))


def admin_route_spec(cfg: SharedConfig) -> dict[str, Any]:
    """``id-admin.<baseDomain>``: the admin console, its API and the master realm."""
    return _route(admin_host(cfg), names.HTTPS_LISTENER_ADMIN, ("/",))


def source_policy_spec(route: str, ranges: list[str]) -> dict[str, Any]:
    """Envoy Gateway v1.9 SecurityPolicy on one HTTPRoute: allow the client address ranges, deny everything else
    (``authorization.defaultAction``; rules need ``action`` and ``principal``, ``principal.clientCIDRs``:
    vendor/charts/gateway-helm-v1.9.0/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml)."""
    authorization: dict[str, Any] = {"defaultAction": "Deny"}
    if ranges:
        authorization["rules"] = [{"name": "allowed-source-ranges", "action": "Allow",
                                   "principal": {"clientCIDRs": list(ranges)}}]
    return {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route}],
            "authorization": authorization}


def master_realm(frontend_url: str | None = None) -> dict[str, Any]:
    """keycloak-config-cli document of the master realm: the platform's realm policy, master overrides, a
    second factor for every login, no password-only tokens. No municipality appears here: each municipality's
    bootstrap job adds its own realm-job client (``components/tenant/identity.py``), which this job never deletes
    (it manages only the clients under its own state key, :data:`MASTER_CACHE_KEY`)."""
    # The master realm's own URLs (its login pages, the admin console's sign-in) on the admin host: with only
    # hostname-admin set, the admin console still signs in through the realm's frontend URL on the public host
    # (keycloak/keycloak discussions 36723, 46646).
    frontend = {"attributes": {"frontendUrl": frontend_url}} if frontend_url else {}
    return {
        "realm": "master", "enabled": True, **REALM_SECURITY, **MASTER_REALM_OVERRIDES, **frontend,
        "authenticationFlows": MASTER_BROWSER_FLOWS,
        "browserFlow": BROWSER_FLOW,
        "clients": [
            # The password of the master admin alone must not yield a token (kcadm's default client): the
            # direct-access grant bypasses the browser flow and its one-time code.
            {"clientId": "admin-cli", "directAccessGrantsEnabled": False},
        ],
    }


def database_spec(cfg: SharedConfig, profile: Profile) -> dict[str, Any]:
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
        "plugins": [wal_archiver(BACKUP_STORE)],
    }


def backup_store_spec(cfg: SharedConfig, s3_endpoint: str) -> dict[str, Any]:
    """Barman Cloud ObjectStore of Keycloak's database, in this order of precedence:

    1. the operator's off-site target (``backup.offsite``, required in production): ``s3://<bucket>/urban-identity
       /cnpg`` over TLS, server-side encrypted, key pair in Secret ``backup-offsite`` of ``urban-identity`` (made
       from the shared stack's config secrets). ``urban-identity`` is a reserved slug, so no municipality's
       ``<slug>/cnpg`` prefix can be the platform's;
    2. the external provider's platform bucket (dev, storage mode ``external``), server-side encrypted;
    3. the claimed Rook bucket (dev, in-cluster RGW over plain HTTP: no SSE, see ``components/backup.py``).
    """
    offsite = cfg.backup.offsite
    if offsite is not None:
        return object_store_spec(f"s3://{offsite.bucket}/{OFFSITE_PREFIX}", str(offsite.endpoint).rstrip("/"),
                                 OFFSITE_SECRET, EXTERNAL_KEYS, BACKUP_RETENTION)
    if cfg.storage.mode == "rook-ceph":
        return object_store_spec(f"s3://{BACKUP_BUCKET}/{names.KEYCLOAK_DB_CLUSTER}", s3_endpoint, BACKUP_BUCKET,
                                 ROOK_KEYS, BACKUP_RETENTION, encryption=None)
    ext = cfg.storage.external
    return object_store_spec(f"s3://{ext.platformBucket}/{names.KEYCLOAK_DB_CLUSTER}", s3_endpoint,
                             ext.credentialsSecret, EXTERNAL_KEYS, BACKUP_RETENTION)


KEYCLOAK_API_VERSION = "k8s.keycloak.org/v2beta1"
"""The Keycloak CR's version: the pinned operator 26.8.0 serves ``v2beta1`` (its storage version) and ``v2alpha1``
(``storage: false``): the CSV's ``customresourcedefinitions.owned`` and ``keycloaks.k8s.keycloak.org-v1.crd.yml``
of its OLM bundle (docs/decisions/0011-keycloak-operator-pairing.md)."""
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBE_ROOT_CA = "kube-root-ca.crt"
"""ConfigMap the kube-controller-manager publishes in every namespace (key ``ca.crt``: the cluster's CA)."""

KEYCLOAK_UID = 1000
"""``USER 1000`` of the Keycloak image (keycloak/keycloak quarkus/container/Dockerfile; files owned 1000:0)."""


def keycloak_pod_template(scope: labels.LabelScope) -> dict[str, Any]:
    """``spec.unsupported.podTemplate``: the Pod Security ``restricted`` settings of the Keycloak pods.

    The Keycloak operator 26.x builds its StatefulSet on this template (``KeycloakDeploymentDependentResource.
    createBaseDeployment``: ``withNewTemplateLike(podTemplate)``); it then edits the first container (name
    ``keycloak``, image, args, probes, ports, env) but keeps its ``securityContext`` and the pod's, and sets neither
    itself: without this template ``keycloak-0`` is refused in ``urban-identity``.

    The root filesystem stays writable: the operator's image is the stock one, which re-augments at every start
    (``startOptimized: false`` in :func:`keycloak_spec`) and writes the build into ``/opt/keycloak/lib`` and
    ``/opt/keycloak/data``; ``restricted`` does not require a read-only root.

    Operators before 26.5 always pointed ``KC_TRUSTSTORE_PATHS`` at the service-account ``ca.crt``
    (``KeycloakDeploymentDependentResource.addEnvVars``, ``putIfAbsent``), and Keycloak refuses to start when a
    truststore path does not exist: with no token that crash-looped. Since 26.5 (keycloak/keycloak#44506, the pinned
    26.8.0 included) the operator sets no truststore path and the server itself adds that ``ca.crt`` when the file is
    present (``truststore-kubernetes-enabled``, default on); both are modelled in ``urbanstack/cluster_model/keycloak.py``
    and the ``paths`` check holds every path a container is pointed at to a mount. The pod gets no token; the
    cluster CA is mounted on its own at the service-account path (ConfigMap ``kube-root-ca.crt``, key ``ca.crt``,
    read-only), so the server trusts the cluster CA as a pod with a token would, and no token exists.
    """
    return {
        "metadata": {"labels": labels.cost_labels(scope, MODULE)},
        "spec": {
            # Keycloak never calls the Kubernetes API: the operator's cache stack finds the members by DNS
            # through the headless <name>-discovery Service (jgroups DNS_PING), so its pods get no token.
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": KEYCLOAK_UID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "kube-root-ca", "projected": {"sources": [
                {"configMap": {"name": KUBE_ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "containers": [{
                "name": "keycloak",
                # The operator keeps the template container's pull policy (createBaseDeployment: only when none is
                # set does it use its own default, Always). Project rule: IfNotPresent with pinned tags.
                "imagePullPolicy": PULL_POLICY,
                "volumeMounts": [{"name": "kube-root-ca", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}],
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


def keycloak_spec(cfg: SharedConfig, profile: Profile) -> dict[str, Any]:
    scope = labels.shared_scope(cfg.operatorCostCenter)
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
        # Keycloak operator 26.x CRD: bootstrapAdmin.user (username/password) and .service (client-id/client-secret);
        # both are created only when the master realm is created (an existing installation: see docs/operations.md).
        "bootstrapAdmin": {"user": {"secret": names.KEYCLOAK_ADMIN_SECRET},
                           "service": {"secret": names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET}},
        # spec.http.labels: KeycloakServiceDependentResource.desired (operator 26.4) puts them on <name>-service
        # over the instance labels; its informer selects app=keycloak,app.kubernetes.io/managed-by=keycloak-operator,
        # so only the four cost labels (our managed-by would hide the Service from the operator).
        "http": {"httpEnabled": True, "httpPort": names.KEYCLOAK_HTTP_PORT,
                 "labels": labels.cost_labels_for_operator(scope, MODULE)},
        # hostname-admin (Keycloak 26.4 "Configuring the hostname (v2)": exposing the administration console
        # on a separate hostname); the admin REST API stays reachable on the frontend host unless the proxy
        # blocks it, which the public route does (PUBLIC_PATHS).
        "hostname": {"hostname": f"https://{keycloak_host(cfg)}", "admin": f"https://{admin_host(cfg)}",
                     "backchannelDynamic": True},
        "proxy": {"headers": "xforwarded"},
        "ingress": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "resources": profile.keycloak_size.resources(),
        "additionalOptions": [
            {"name": "metrics-enabled", "value": "true"},
            {"name": "health-enabled", "value": "true"},
        ],
        "scheduling": {"priorityClassName": names.PRIORITY_PLATFORM},
        # spec.automountServiceAccountToken (operator 26.5+, keycloak/keycloak#38843): the operator sets the pod's
        # automountServiceAccountToken from it (default true); the pod template says the same.
        "automountServiceAccountToken": False,
        "unsupported": {"podTemplate": keycloak_pod_template(scope)},
    }
    if instances > 1:
        spec["scheduling"]["affinity"] = spread(names.KEYCLOAK_POD_LABELS)
    return spec


class Identity(pulumi.ComponentResource):
    """Keycloak, its database, its admin credentials and the hardened master realm."""

    def __init__(self, name: str, cfg: SharedConfig, profile: Profile, namespace: pulumi.Resource,
                 operators: Operators, storage: Storage, gateway: pulumi.Resource,
                 opts: pulumi.ResourceOptions | None = None):
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
        self.service_secret_value = random.RandomPassword(
            "keycloak-bootstrap-service-secret", length=40, special=False, opts=child(self))
        self.service_secret = secret(self, names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET, ns,
                                     {"client-id": BOOTSTRAP_SERVICE_CLIENT,
                                      "client-secret": self.service_secret_value.result},
                                     opts=pulumi.ResourceOptions(depends_on=[namespace],
                                                                 additional_secret_outputs=["stringData"]))
        backup_deps: list[pulumi.Resource] = [namespace, operators.barman]
        if cfg.backup.offsite is not None:
            # The stack checked the key pair before registering anything (urbanstack/engine/stacks.py).
            backup_deps.append(offsite_secret(
                self, ns, offsite_credentials("shared", "Keycloak's database backup (backup.offsite)"),
                opts=pulumi.ResourceOptions(depends_on=[namespace])))
        elif cfg.storage.mode == "rook-ceph":
            self.backup_bucket = k8s.apiextensions.CustomResource(
                BACKUP_BUCKET, api_version="objectbucket.io/v1alpha1", kind="ObjectBucketClaim",
                metadata=meta(BACKUP_BUCKET, ns),
                spec={"bucketName": BACKUP_BUCKET, "storageClassName": names.OBJECT_BUCKET_STORAGE_CLASS},
                opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, storage.bucket_class],
                                                        retain_on_delete=True)))
            backup_deps.append(self.backup_bucket)
        self.backup_store = k8s.apiextensions.CustomResource(
            BACKUP_STORE, api_version="barmancloud.cnpg.io/v1", kind="ObjectStore",
            metadata=meta(BACKUP_STORE, ns), spec=backup_store_spec(cfg, storage.s3_endpoint),
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
            spec=scheduled_backup_spec(names.KEYCLOAK_DB_CLUSTER, BACKUP_SCHEDULE),
            opts=child(self, pulumi.ResourceOptions(depends_on=[self.database])))
        self.keycloak = k8s.apiextensions.CustomResource(
            names.KEYCLOAK_NAME,
            # v2beta1: the storage version of the pinned operator 26.8.0 (docs/decisions/0011-keycloak-operator-pairing.md).
            api_version=KEYCLOAK_API_VERSION,
            kind="Keycloak",
            # The provider waits for the operator's Ready condition before dependants (realm jobs) start.
            metadata=meta(names.KEYCLOAK_NAME, ns, annotations={"pulumi.com/waitFor": "condition=Ready"}),
            spec=keycloak_spec(cfg, profile),
            opts=child(self, pulumi.ResourceOptions(
                depends_on=[namespace, operators.keycloak, self.database, self.admin_secret, self.service_secret])),
        )
        self.pdbs = []
        if profile.keycloak_instances > 1:
            self.pdbs.append(pdb(self, names.KEYCLOAK_NAME, ns, names.KEYCLOAK_POD_LABELS, opts=in_ns))
        def gateway_object(kind: str, obj_name: str, spec: dict, api: str = "gateway.networking.k8s.io/v1",
                           after: list | None = None):
            return k8s.apiextensions.CustomResource(
                f"{obj_name}-{kind.lower()}" if kind == "SecurityPolicy" else obj_name, api_version=api, kind=kind,
                metadata=meta(obj_name, ns), spec=spec,
                opts=child(self, pulumi.ResourceOptions(depends_on=[namespace, gateway, *(after or [])])))

        self.route = gateway_object("HTTPRoute", names.KEYCLOAK_NAME, public_route_spec(cfg))
        # The SecurityPolicies exist before their routes: no moment in which a route is open.
        self.master_closed_policy = gateway_object("SecurityPolicy", MASTER_CLOSED_ROUTE,
                                                   source_policy_spec(MASTER_CLOSED_ROUTE, []), SECURITY_POLICY_API)
        self.master_closed_route = gateway_object("HTTPRoute", MASTER_CLOSED_ROUTE, master_closed_route_spec(cfg),
                                                  after=[self.master_closed_policy])
        ranges = [str(net) for net in cfg.keycloakAdmin.allowedSourceRanges]
        self.admin_policy = gateway_object("SecurityPolicy", ADMIN_ROUTE, source_policy_spec(ADMIN_ROUTE, ranges),
                                           SECURITY_POLICY_API)
        self.admin_route = gateway_object("HTTPRoute", ADMIN_ROUTE, admin_route_spec(cfg), after=[self.admin_policy])
        # The master realm only; the municipalities' realms and realm-job clients are made by their own stacks'
        # bootstrap jobs (components/tenant/identity.py). The document holds no secret.
        master_document = json.dumps(master_realm(f"https://{admin_host(cfg)}"), sort_keys=True, indent=1)
        self.master_secret, self.master_job = realm_job(
            self, "realm-master", master_document, Login(names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET), namespace=ns,
            opts=pulumi.ResourceOptions(depends_on=[self.keycloak, self.service_secret]),
            reapply=cfg.realmReapply, cache_key=MASTER_CACHE_KEY)
        self.outputs: dict[str, Any] = {
            "keycloakUrl": f"https://{keycloak_host(cfg)}",
            "keycloakInternalUrl": KEYCLOAK_INTERNAL_URL,
            "keycloakNamespace": ns,
            "keycloakAdminSecret": names.KEYCLOAK_ADMIN_SECRET,
            "keycloakAdminUsername": pulumi.Output.secret(ADMIN_USERNAME),
            "keycloakAdminPassword": pulumi.Output.secret(self.admin_password.result),
        }
        self.register_outputs({})
