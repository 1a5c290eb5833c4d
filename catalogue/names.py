"""Fixed names: what the shared stack creates and the tenant stacks refer to (NetworkPolicies need them as plain
strings), and the naming rules of a municipality's objects that the stacks, the tenant schema (names a
municipality must not use) and the commands (offboarding, restore) share. Changing one is a migration: every
stack must be updated together."""

import hashlib

PROJECT = "urban-stack"
"""The Pulumi project (``Pulumi.yaml``); also the namespace of the stacks' config keys (``urban-stack:<key>``)."""
CONFIG_NS = PROJECT

NS_OPERATORS = "urban-operators"
"""Operators: CloudNativePG and its Barman Cloud plugin (the Keycloak operator runs in NS_IDENTITY: it watches only
its own namespace)."""
NS_CERT_MANAGER = "urban-cert-manager"
NS_GATEWAY = "urban-gateway"
"""Envoy Gateway controller and the data-plane (Envoy) pods of the shared Gateway."""
NS_IDENTITY = "urban-identity"
"""The shared Keycloak, its database, and the realm jobs of every municipality."""
NS_MONITORING = "urban-monitoring"
NS_STORAGE = "urban-storage"
"""Rook-Ceph operator and cluster (mode ``rook-ceph``)."""

PLATFORM_NAMESPACES = (NS_OPERATORS, NS_CERT_MANAGER, NS_GATEWAY, NS_IDENTITY, NS_MONITORING, NS_STORAGE)

GATEWAY_NAME = "urban-gateway"
GATEWAY_CLASS = "urban-envoy"
KEYCLOAK_NAME = "keycloak"
KEYCLOAK_SERVICE = "keycloak-service"
KEYCLOAK_HTTP_PORT = 8080
"""In-cluster HTTP port of Keycloak (realm jobs); everything from outside goes through the Gateway (HTTPS)."""
KEYCLOAK_ADMIN_SECRET = "keycloak-initial-admin"
"""Secret in NS_IDENTITY with ``username``/``password`` of the master realm's admin (realm jobs read it)."""
KEYCLOAK_BOOTSTRAP_SERVICE_SECRET = "keycloak-bootstrap-service"
"""Secret in NS_IDENTITY with ``client-id``/``client-secret`` of the master realm's bootstrap service account
(Keycloak CR ``spec.bootstrapAdmin.service.secret``); only the master realm job logs in with it."""
CLUSTER_ISSUER = "urban-issuer"
OBJECT_STORE = "urban-objects"
RGW_PORT = 8080
GATEWAY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
    "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": NS_GATEWAY,
}
"""Labels Envoy Gateway puts on the data-plane pods of our Gateway (tenant NetworkPolicies admit these)."""
KEYCLOAK_POD_LABELS = {"app": "keycloak", "app.kubernetes.io/instance": KEYCLOAK_NAME}
"""Labels the Keycloak operator puts on Keycloak pods."""
PRIORITY_PLATFORM = "urban-platform-critical"
PRIORITY_TENANT = "urban-tenant"

# --- added by the shared stack (issue 3) ---------------------------------------------------------------
KEYCLOAK_HOST_PREFIX = "id"
"""Keycloak's public host is ``id.<baseDomain>``."""
KEYCLOAK_MANAGEMENT_PORT = 9000
"""Keycloak's management interface (health, metrics)."""
KEYCLOAK_DB_CLUSTER = "keycloak-db"
"""CloudNativePG cluster of the shared Keycloak (service ``keycloak-db-rw``, secret ``keycloak-db-app``)."""
KEYCLOAK_OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "keycloak-operator"}
"""Labels of the Keycloak operator pod (it runs in NS_IDENTITY: the operator watches only its own namespace)."""
REALM_JOB_LABELS = {"app.kubernetes.io/name": "keycloak-config-cli"}
"""Labels of every realm job's pods (master realm and municipality realms); NetworkPolicies admit them."""
OBJECT_BUCKET_STORAGE_CLASS = "urban-objects-bucket"
"""StorageClass for ObjectBucketClaims against the Rook RGW object store (storage mode ``rook-ceph``)."""
PLATFORM_TLS_SECRET = "platform-tls"
"""Certificate (in NS_GATEWAY) of the platform hosts on the shared Gateway (``id.<baseDomain>``)."""
HTTPS_LISTENER_PLATFORM = "https-platform"
KEYCLOAK_ADMIN_HOST_PREFIX = "id-admin"
"""Keycloak's admin console and master realm are served only at ``id-admin.<baseDomain>``."""
HTTPS_LISTENER_ADMIN = "https-admin"
HTTP_LISTENER = "http"


LISTENER_SET = "urban-listeners"
"""The municipality's ``ListenerSet`` (Gateway API v1) in its own namespace, attached to the shared Gateway: its HTTP,
HTTPS and internal back-channel listeners (``components/tenant/gateway.py``). Its listeners' names need only be
unique within it (Gateway API ``ListenerSet.spec.listeners`` CEL rule), so they are the same in every municipality."""
LS_HTTP = "http"
"""HTTP listener of a municipality's ListenerSet (port 80, ``*.<domain>``): its ACME HTTP-01 solver and its HTTPS
redirect attach here."""
LS_HTTPS = "https"
"""HTTPS listener of a municipality's ListenerSet (``*.<domain>``, Secret ``<slug>-tls``): its modules' routes."""
LS_BACKCHANNEL = "backchannel"
"""Internal back-channel listener of a municipality's ListenerSet (HTTP, :func:`backchannel_port`)."""
TENANT_ISSUER = "urban-acme"
"""The municipality's own ACME ``Issuer`` (cert-manager, namespaced) in its namespace (TLS issuer ``acme``)."""
TENANT_ACME_ACCOUNT = "urban-acme-account"
"""Secret (in the municipality's namespace) with the ACME account key of :data:`TENANT_ISSUER`."""


def backchannel_service(slug: str) -> str:
    """ClusterIP Service in NS_GATEWAY in front of the Envoy pods, with municipality ``slug``'s back-channel port only.
    Created by the municipality's stack (never published outside the cluster; the municipality's NetworkPolicy of
    the same name in NS_GATEWAY admits only its declared pods on that port, ``components/tenant/gateway.py``)."""
    return f"backchannel-{slug}"


BACKCHANNEL_PORT_BASE = 20000
BACKCHANNEL_PORT_SPAN = 10000
"""Back-channel listener ports lie in 20000-29999: above Envoy Gateway's own ports (19000-19003) and the ports it
shifts (a listener port below 1024 gets +10000), below Linux's ephemeral range (32768-60999)."""


def backchannel_port(slug: str, pinned: int | None = None) -> int:
    """Port of municipality ``slug``'s internal back-channel listener on the shared Gateway: a pure function of the
    slug (sha256), so adding or removing a municipality never moves another one's port. Two slugs with the same
    port are refused when the tenant files are read (``catalogue/tenants.py``, ``cross_problems``), blaming the newer
    file. ``pinned``: the tenant file's ``backchannelPort`` (written by ``urbanstack tenants new`` when the derived
    port is taken), which wins."""
    if pinned is not None:
        return pinned
    digest = int(hashlib.sha256(slug.encode()).hexdigest()[:8], 16)
    return BACKCHANNEL_PORT_BASE + digest % BACKCHANNEL_PORT_SPAN


def backchannel_route(slug: str) -> str:
    """HTTPRoute (in NS_IDENTITY, next to Keycloak's Service) on municipality ``slug``'s back-channel listener. Not
    ``backchannel-<slug>``, the name of the route the shared stack made before decision 0012: during the move both
    exist (the old one is deleted by the shared stack's next update), so the municipality's stack can go first."""
    return f"{slug}-backchannel"


def backchannel_base_url(slug: str, port: int | None = None) -> str:
    """Base URL of Keycloak's back channel for realm ``slug``'s modules: the internal listener of the Gateway."""
    return f"http://{backchannel_service(slug)}.{NS_GATEWAY}.svc:{backchannel_port(slug, port)}"


BACKCHANNEL_ENDPOINTS = (".well-known/openid-configuration", "protocol/openid-connect/token",
                         "protocol/openid-connect/userinfo", "protocol/openid-connect/certs")
"""The only paths below ``/realms/<slug>/`` the back channel serves (discovery, token, userinfo, keys): exact paths,
never the admin API, never another realm."""


def realm_job_client(slug: str) -> str:
    """Service-account client in the master realm with admin roles of realm ``<slug>`` only; also the name of
    the Secret in NS_IDENTITY (keys ``client-id``/``client-secret``) the municipality's realm job logs in with."""
    return f"realm-job-{slug}"


# --- platform subdomains (municipalities without a domain of their own) --------------------------------------
PLATFORM_SUBDOMAINS_LISTENER = "https-subdomains"
"""The shared Gateway's one HTTPS listener ``*.<baseDomain>`` of every municipality on a platform subdomain
(``components/shared/subdomains.py``)."""
PLATFORM_SUBDOMAINS_TLS_SECRET = "platform-subdomains-tls"
"""Secret (in NS_GATEWAY) of the one wildcard certificate ``*.<baseDomain>`` (ACME DNS-01 or the internal CA)."""
PLATFORM_SUBDOMAIN_LABEL = "urban-stack/platform-subdomain"
"""Label (value ``"true"``) of the Namespace of a municipality on a platform subdomain: the wildcard listener admits
HTTPRoutes from labelled namespaces only, so a join edits no shared object. Only the municipality's stack sets it
(its groups' Roles grant nothing on Namespaces, ``components/tenant/tenancy.py``)."""
PLATFORM_SUBDOMAIN_NAMESPACE_LABELS = {PLATFORM_SUBDOMAIN_LABEL: "true"}
DNS01_SECRET = "urban-dns01-credentials"
"""Secret (in NS_CERT_MANAGER, where cert-manager reads a ClusterIssuer's secrets) with the DNS provider's
credentials for the DNS-01 solver; made by the shared stack from its config secrets."""


def platform_subdomain_label(slug: str, module_name: str) -> str:
    """The one DNS label of module ``module_name`` of municipality ``slug`` on a platform subdomain:
    ``<slug>-<module>`` (a wildcard certificate covers exactly one label, RFC 6125 6.4.3)."""
    return f"{slug}-{module_name}"


def platform_subdomain_host(slug: str, module_name: str, base_domain: str) -> str:
    """Host of a module of a municipality on a platform subdomain: ``<slug>-<module>.<baseDomain>``."""
    return f"{platform_subdomain_label(slug, module_name)}.{base_domain}"


def tenant_tls_secret(slug: str) -> str:
    """Secret (in the municipality's namespace) with the certificate for ``*.<domain>``."""
    return f"{slug}-tls"


# --- a municipality's objects --------------------------------------------------------------------------------
DB_CLUSTER = "postgis"
"""The municipality's CloudNativePG cluster (Services ``postgis-rw``/``-ro``, Secrets ``postgis-app``, ...)."""
DB_PORT = 5432
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
"""Name of the Barman Cloud CNPG-I plugin in a cluster's ``plugins`` and a backup's ``pluginConfiguration``
(plugin-barman-cloud v0.4.0 chart; the plugin registers under this name)."""


def role_secret_name(role: str) -> str:
    """Secret with the credentials of database role ``role`` (``db-<role>``, ``_`` as ``-``)."""
    return f"db-{role.replace('_', '-')}"


def oidc_secret_name(module: str) -> str:
    """Secret with the OIDC client of ``module`` in the municipality's realm."""
    return f"{module}-oidc"


def group_name(slug: str, group: str) -> str:
    """Kubernetes group of a realm group, as the cluster's OIDC authenticator presents it."""
    return f"urban-stack:{slug}:{group}"


def bucket_claim(slug: str) -> str:
    """The municipality's bucket claim and the Secret with its keys."""
    return f"{slug}-bucket"
