"""Fixed names that the shared stack creates and the tenant stacks refer to (NetworkPolicies need them
as plain strings). Changing one is a migration: both stacks must be updated together."""

NS_OPERATORS = "urban-operators"
"""Operators: CloudNativePG, Barman Cloud plugin, Keycloak operator."""
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
KEYCLOAK_PORT = 8443
KEYCLOAK_ADMIN_SECRET = "keycloak-initial-admin"
"""Secret in NS_IDENTITY with ``username``/``password`` of the master realm's admin (realm jobs read it)."""
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
