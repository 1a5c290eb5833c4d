"""The shared platform, composed of one component per concern.

Each component's type token is part of the URNs below it; who pays for its objects is the cost module the
catalogue names for that token (``catalogue.labels.PLATFORM_COMPONENTS``), here the token's last part.

=================  ===========================  ============================================================
component          type token                   what
=================  ===========================  ============================================================
Platform           urbanstack:shared:platform   namespaces (Pod Security), PriorityClasses, NetworkPolicies
Operators          urbanstack:shared:operators  CloudNativePG (+ Barman Cloud), cert-manager, Envoy Gateway,
                                                Keycloak operator, Rook (mode ``rook-ceph``)
Certificates       urbanstack:shared:certificates  ClusterIssuer (ACME or internal CA)
Gateway            urbanstack:shared:gateway    GatewayClass, EnvoyProxy, the shared Gateway, platform cert
Identity           urbanstack:shared:identity   Keycloak, its database, admin credentials, master realm
Storage            urbanstack:shared:storage    CephCluster + CephObjectStore + bucket class, or external S3
Monitoring         urbanstack:shared:monitoring kube-prometheus-stack, OpenCost
=================  ===========================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import labels, names
from catalogue.shared_config import SharedConfig
from catalogue.spec import BACKCHANNEL_PUBLIC
from components import egress
from components.k8s import child, dns_egress, meta, network_policy, peer, tcp
from components.shared.certificates import Certificates, dns01_egress
from components.shared.gateway import MUNICIPALITY_NAMESPACES, Gateway
from components.shared.identity import Identity
from components.shared.monitoring import NODE_SCRAPE_PORTS, PROMETHEUS_POD_LABELS, SCRAPE_PORTS, Monitoring
from components.shared.operators import CERT_MANAGER_POD_LABELS, Operators
from components.shared.profile import profile_of
from components.shared.storage import Storage
from components.shared.subdomains import WildcardCertificate, offers_platform_subdomains

POD_SECURITY: dict[str, str] = {
    names.NS_OPERATORS: "restricted",
    names.NS_CERT_MANAGER: "restricted",
    names.NS_GATEWAY: "restricted",
    names.NS_IDENTITY: "restricted",
    # node-exporter reads the host's network and PID namespaces.
    names.NS_MONITORING: "privileged",
    # Ceph OSDs and the CSI node plugins need host access.
    names.NS_STORAGE: "privileged",
}
"""Pod Security level enforced per platform namespace (``audit``/``warn`` are ``restricted`` everywhere)."""

PROTECTED_NAMESPACES = (names.NS_IDENTITY, names.NS_STORAGE)
"""Namespaces holding data (Keycloak's database, Ceph): protected and kept when the stack is destroyed."""

PRIORITY_CLASSES: dict[str, tuple[int, str]] = {
    names.PRIORITY_PLATFORM: (1_000_000, "Shared platform services every municipality depends on."),
    names.PRIORITY_TENANT: (100_000, "Workloads of a municipality."),
}

ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
"""Every address: only for ingress from clients outside the cluster and the API server's webhook calls, and for
Prometheus reaching the nodes. Egress to the internet is ``components.egress.internet`` (never the cluster)."""
ALL_NAMESPACES = [{"namespaceSelector": {}}]
KUBE_API_PORTS = egress.KUBE_API_PORTS
WEBHOOK_PORTS: dict[str, tuple[int, ...]] = {
    names.NS_OPERATORS: (9443,),        # CloudNativePG admission webhooks
    names.NS_CERT_MANAGER: (10250,),    # cert-manager webhook
    # Envoy Gateway's topology injector (MutatingWebhookConfiguration on pods/binding, service port 9443;
    # gateway-helm v1.9.0 templates/envoy-proxy-topology-injector-webhook.yaml, on by default). Its
    # failurePolicy is Ignore: blocked, every binding in urban-gateway waits for the timeout and Envoy pods
    # lose their zone labels.
    names.NS_GATEWAY: (9443,),
    names.NS_MONITORING: (10250,),      # Prometheus operator admission webhook
}
"""Ports the kube-apiserver calls (admission webhooks); it calls from node addresses, not from pods."""
API_CLIENT_NAMESPACES = (names.NS_OPERATORS, names.NS_CERT_MANAGER, names.NS_GATEWAY, names.NS_IDENTITY,
                         names.NS_MONITORING, names.NS_STORAGE)
"""Namespaces with operators/controllers that talk to the kube-apiserver (its address is not a pod)."""
API_CLIENTS: dict[str, dict[str, dict[str, str]]] = {
    # In urban-identity only the Keycloak operator and the CloudNativePG instances of Keycloak's database (their
    # instance manager watches its Cluster) talk to the API: never the realm jobs of the municipalities.
    names.NS_IDENTITY: {"kube-api": dict(names.KEYCLOAK_OPERATOR_POD_LABELS),
                        "kube-api-db": {"cnpg.io/cluster": names.KEYCLOAK_DB_CLUSTER}},
}
"""Where not every pod of a namespace talks to the kube-apiserver: flow name -> pods that do."""
ENVOY_HTTP_PORT = 10080
ENVOY_HTTPS_PORT = 10443
ENVOY_PORTS = (ENVOY_HTTP_PORT, ENVOY_HTTPS_PORT)
"""Container ports of Envoy's listeners (Envoy Gateway maps 80/443 to unprivileged ports)."""
CERT_MANAGER_CONTROLLER_LABELS = CERT_MANAGER_POD_LABELS["controller"]
"""Pod labels of cert-manager's controller (chart v1.21.1 templates/deployment.yaml), which runs the self check."""
PUBLIC_BACKCHANNEL_CLIENTS = {
    "namespaceSelector": MUNICIPALITY_NAMESPACES,
    "podSelector": {"matchLabels": {labels.OIDC_BACKCHANNEL: BACKCHANNEL_PUBLIC}},
}
"""Module pods of any municipality that call their realm at its public address (catalogue ``backchannel:
public``, CKAN and REI3). With kube-proxy and an IP LoadBalancer their connection to the public address becomes
one to an Envoy pod on 10443 (a hairpin): admitted by this pod/namespace peer, because CNIs such as Cilium never
match pod addresses by the ``ipBlock`` that admits outside clients."""


CEPH_PORTS = [{"protocol": "TCP", "port": 3300}, {"protocol": "TCP", "port": 6789},
              {"protocol": "TCP", "port": 6800, "endPort": 7568}]
"""Ceph mon (msgr2, msgr1) and OSD/MGR ports: kernel RBD/CephFS clients on the nodes connect to them."""


def s3_egress(cfg: SharedConfig) -> dict:
    """Egress rule to the object store: Rook's RGW pods, or the external provider's addresses (HTTPS)."""
    if cfg.storage.mode == "rook-ceph":
        return {"to": [peer(names.NS_STORAGE, {"app": "rook-ceph-rgw"})], "ports": tcp(names.RGW_PORT)}
    return egress.to_cidr(cfg.storage.external.egressCidr, cfg.network, 443)


def offsite_egress(cfg: SharedConfig) -> dict | None:
    """Egress rule to the operator's off-site backup target (shared config ``backup.offsite.egressCidr``, HTTPS),
    for the pods that send backups there; ``None`` without an off-site target."""
    if cfg.backup.offsite is None:
        return None
    return egress.to_cidr(cfg.backup.offsite.egressCidr, cfg.network, 443)


def flows(cfg: SharedConfig) -> list[tuple[str, str, dict[str, str], list[dict] | None, list[dict] | None]]:
    """Every flow a platform namespace needs beyond the baseline: ``(namespace, name, pods, ingress, egress)``.
    None depends on the municipalities: each municipality's stack adds the policy of its own back-channel port on
    the Envoy pods (``components/tenant/gateway.py``; NetworkPolicies are additive).

    Baseline in every platform namespace: deny all, DNS, traffic inside the namespace, and scraping by
    Prometheus on the namespace's metrics ports (``monitoring.SCRAPE_PORTS``).
    """
    out: list[tuple[str, str, dict[str, str], list[dict] | None, list[dict] | None]] = []
    for ns in API_CLIENT_NAMESPACES:
        for flow, pods in API_CLIENTS.get(ns, {"kube-api": {}}).items():
            out.append((ns, flow, pods, None, [egress.api_server(cfg.network)]))
    for ns, ports in WEBHOOK_PORTS.items():
        out.append((ns, "webhooks", {}, [{"from": ANYWHERE, "ports": tcp(*ports)}], None))
    out += [
        # CloudNativePG manages PostgreSQL instances in every namespace (status port 8000, PostgreSQL 5432);
        # their Barman Cloud sidecars call the plugin (gRPC 9090).
        (names.NS_OPERATORS, "cnpg-instances", {}, [{"from": ALL_NAMESPACES, "ports": tcp(9090)}],
         [{"to": ALL_NAMESPACES, "ports": tcp(8000, 5432)}]),
        # ACME: the CA's API and the HTTP-01 self check through the public address (docs/operations.md,
        # "Traffic to the Gateway's public address"). Hostname / proxy-mode LoadBalancer: the check leaves
        # the cluster for the load balancer's address on 80 (first rule). kube-proxy with an IP LoadBalancer:
        # the node rewrites the LoadBalancer IP to an Envoy pod and port 80 to its container port 10080
        # before NetworkPolicies are evaluated, so the check is an in-cluster connection to Envoy:10080
        # (second rule; the ipBlock alone would not do: the port is 10080, and CNIs such as Cilium never
        # match pod addresses by ipBlock).
        # DNS-01 of the wildcard certificate (tls.dns01): name servers on port 53 (certificates.dns01_egress).
        (names.NS_CERT_MANAGER, "acme", {}, None, [
            egress.to_internet(cfg.network, 80, 443),
            {"to": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS)], "ports": tcp(ENVOY_HTTP_PORT)},
            *dns01_egress(cfg)]),
        # Envoy: clients from anywhere; upstreams are Services in any namespace (Keycloak, municipalities'
        # modules, ACME solvers). Connections from pods are admitted by pod/namespace peers, never by the
        # ipBlock alone (Cilium never matches pod addresses by ipBlock): cert-manager's self check, translated by
        # kube-proxy (see "acme"), and the hairpin of modules that call their realm at the public address.
        # Each municipality's internal back-channel port is admitted by that municipality's own policy in this
        # namespace (components/tenant/gateway.py), only for its declared pods, never from outside the cluster.
        (names.NS_GATEWAY, "envoy", dict(names.GATEWAY_POD_LABELS), [
            {"from": ANYWHERE, "ports": tcp(*ENVOY_PORTS)},
            {"from": [peer(names.NS_CERT_MANAGER, CERT_MANAGER_CONTROLLER_LABELS)], "ports": tcp(ENVOY_HTTP_PORT)},
            {"from": [PUBLIC_BACKCHANNEL_CLIENTS], "ports": tcp(ENVOY_HTTPS_PORT)}],
         [{"to": ALL_NAMESPACES}]),
        # Keycloak: from the Gateway's Envoy pods (the public hosts and the municipalities' internal back
        # channel, gateway.py) and the realm jobs, from no module pod; to directories and identity providers of
        # municipalities (LDAP/LDAPS, OIDC over HTTPS) and the realms' mail relay (shared config smtp) on the
        # internet only (components/egress.py: never the cluster, the metadata service or the API server).
        (names.NS_IDENTITY, "keycloak", dict(names.KEYCLOAK_POD_LABELS),
         [{"from": [peer(names.NS_GATEWAY, names.GATEWAY_POD_LABELS), peer(None, names.REALM_JOB_LABELS)],
           "ports": tcp(names.KEYCLOAK_HTTP_PORT)}],
         [egress.to_internet(cfg.network, 389, 443, 636, *([cfg.smtp.port] if cfg.smtp else []))]),
        # Realm jobs (master realm and every municipality's) talk to Keycloak only, never to each other.
        (names.NS_IDENTITY, "realm-jobs", dict(names.REALM_JOB_LABELS), None,
         [{"to": [peer(None, names.KEYCLOAK_POD_LABELS)], "ports": tcp(names.KEYCLOAK_HTTP_PORT)}]),
        # Keycloak's database is managed by the CloudNativePG operator and archives through the Barman Cloud
        # plugin: to the off-site target when one is configured (components/shared/identity.py backup_store_spec,
        # required in production), else to the platform's object store (dev).
        (names.NS_IDENTITY, "keycloak-db", {"cnpg.io/cluster": names.KEYCLOAK_DB_CLUSTER},
         [{"from": [peer(names.NS_OPERATORS, {})], "ports": tcp(8000, 5432)}],
         [{"to": [peer(names.NS_OPERATORS, {})], "ports": tcp(9090)}, offsite_egress(cfg) or s3_egress(cfg)]),
        # Only Prometheus leaves the namespace to scrape: the metrics ports of what it scrapes, and the kubelets /
        # node exporters on the nodes (monitoring.SCRAPE_PORTS).
        (names.NS_MONITORING, "scrape", dict(PROMETHEUS_POD_LABELS), None,
         [*({"to": [peer(ns, {})], "ports": tcp(*ports)} for ns, ports in SCRAPE_PORTS.items()),
          {"to": ANYWHERE, "ports": tcp(*NODE_SCRAPE_PORTS)}]),
    ]
    if cfg.storage.mode == "rook-ceph":
        out += [
            # S3 for municipalities' buckets and database backups; Ceph daemons for clients on the nodes.
            (names.NS_STORAGE, "rgw", {"app": "rook-ceph-rgw"},
             [{"from": ALL_NAMESPACES, "ports": tcp(names.RGW_PORT)}], None),
            (names.NS_STORAGE, "ceph-clients", {}, [{"from": ANYWHERE, "ports": CEPH_PORTS}], None),
        ]
    return out


class Platform(pulumi.ComponentResource):
    """Platform namespaces with Pod Security labels, PriorityClasses, default-deny NetworkPolicies plus flows."""

    def __init__(self, name: str, cfg: SharedConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:platform", name, None, opts)
        self.priority_classes = {
            pc: k8s.scheduling.v1.PriorityClass(
                pc, metadata=meta(pc, None), value=value, global_default=False, description=text,
                preemption_policy="PreemptLowerPriority", opts=child(self))
            for pc, (value, text) in PRIORITY_CLASSES.items()
        }
        # Namespaces after the PriorityClasses: everything of the platform depends on its namespace, so the
        # priority class its pods name exists before any of them is created.
        after_priorities = pulumi.ResourceOptions(depends_on=list(self.priority_classes.values()))
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for ns in names.PLATFORM_NAMESPACES:
            keep = ns in PROTECTED_NAMESPACES
            self.namespaces[ns] = k8s.core.v1.Namespace(
                ns,
                metadata=meta(ns, None, labels={
                    "pod-security.kubernetes.io/enforce": POD_SECURITY[ns],
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                }),
                opts=child(self, pulumi.ResourceOptions.merge(after_priorities, pulumi.ResourceOptions(
                    protect=keep, retain_on_delete=keep))),
            )
        self.policies: list[k8s.networking.v1.NetworkPolicy] = []
        for ns in names.PLATFORM_NAMESPACES:
            self._policy(ns, "default-deny", {}, [], [])
            self._policy(ns, "dns", {}, None, [dns_egress()])
            # Inside a namespace, platform pods talk freely. In urban-identity only the platform's own pods
            # do: municipalities' realm jobs run there too and must not reach each other (flow "realm-jobs").
            own = {labels.TENANT: labels.SHARED_TENANT} if ns == names.NS_IDENTITY else {}
            self._policy(ns, "same-namespace", own, [{"from": [peer(None, own)]}], [{"to": [peer(None, own)]}])
            if ns in SCRAPE_PORTS:
                self._policy(ns, "monitoring", {}, [{"from": [peer(names.NS_MONITORING, PROMETHEUS_POD_LABELS)],
                                                     "ports": tcp(*SCRAPE_PORTS[ns])}], None)
        for ns, flow, pods, ingress, out in flows(cfg):
            self._policy(ns, flow, pods, ingress, out)
        self.register_outputs({})

    def _policy(self, ns: str, flow: str, pods: Mapping[str, str], ingress: Sequence[dict] | None,
                egress: Sequence[dict] | None) -> None:
        self.policies.append(network_policy(self, f"{ns}-{flow}", ns, pods, ingress, egress,
                                            opts=pulumi.ResourceOptions(depends_on=[self.namespaces[ns]])))


class SharedPlatform(pulumi.ComponentResource):
    """Everything that exists once for all municipalities. It takes no tenant files: a join changes none of it."""

    def __init__(self, name: str, cfg: SharedConfig,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:stack:shared", name, None, opts)
        profile = profile_of(cfg)
        here = pulumi.ResourceOptions(parent=self)
        self.platform = Platform("platform", cfg, opts=here)
        ns = self.platform.namespaces
        # Monitoring first: its chart installs the monitoring CRDs (ServiceMonitor, PodMonitor) that the
        # operators' charts and the clusters they run create.
        self.monitoring = Monitoring("monitoring", cfg, profile, ns[names.NS_MONITORING], opts=here)
        self.operators = Operators("operators", cfg, profile, ns, self.monitoring.prometheus, opts=here)
        self.certificates = Certificates("certificates", cfg, ns[names.NS_CERT_MANAGER], self.operators, opts=here)
        if offers_platform_subdomains(cfg):
            self.subdomains = WildcardCertificate("subdomains", cfg, ns[names.NS_GATEWAY],
                                                  [self.operators.cert_manager, self.certificates.issuer], opts=here)
        self.gateway = Gateway("gateway", cfg, profile, ns[names.NS_GATEWAY], self.operators,
                               self.certificates.issuer, opts=here)
        self.storage = Storage("storage", cfg, profile, ns[names.NS_STORAGE], self.operators, opts=here)
        self.identity = Identity("identity", cfg, profile, ns[names.NS_IDENTITY], self.operators, self.storage,
                                 self.gateway.gateway, opts=here)
        storage = self.storage.outputs
        self.outputs: dict[str, Any] = {
            "profile": profile.name,
            "gatewayName": names.GATEWAY_NAME,
            "gatewayNamespace": names.NS_GATEWAY,
            "gatewayClass": names.GATEWAY_CLASS,
            "gatewayPodLabels": dict(names.GATEWAY_POD_LABELS),
            "clusterIssuer": names.CLUSTER_ISSUER,
            "tlsIssuerKind": cfg.tls.issuer,
            **self.identity.outputs,
            "s3Mode": storage["s3Mode"],
            "s3Endpoint": storage["s3Endpoint"],
            "s3Region": storage["s3Region"],
            "s3CredentialsSecret": storage["s3CredentialsSecret"],
            "bucketStorageClass": storage["bucketStorageClass"],
            "objectStore": storage["objectStore"],
            "storageClass": cfg.storage.blockStorageClass,
            "priorityClassPlatform": names.PRIORITY_PLATFORM,
            "priorityClassTenant": names.PRIORITY_TENANT,
            "platformNamespaces": list(names.PLATFORM_NAMESPACES),
            "labelKeys": list(labels.COST_LABEL_KEYS),
            "costLabelKeys": {"tenant": labels.TENANT, "module": labels.MODULE,
                              "costCenter": labels.COST_CENTER, "costShare": labels.COST_SHARE},
        }
        self.register_outputs(self.outputs)
