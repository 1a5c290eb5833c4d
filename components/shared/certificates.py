"""cert-manager's ClusterIssuer ``urban-issuer``, by config ``tls.issuer``:

* ``acme``: an ACME account (``tls.acmeServer``, e-mail ``adminEmail``) solving HTTP-01 challenges with an
  HTTPRoute on the shared Gateway (cert-manager's Gateway API support) for the platform's hosts only: its one
  solver (``selector.dnsNames``) attaches to ``http`` (routes from ``urban-gateway`` only). There is no default
  solver: a name outside the selector gets no challenge solver (cert-manager v1.21.1 ``ACMEChallengeSolver.selector``:
  "If not specified, the solver will be treated as the 'default' solver"). Municipalities do not use it: each
  municipality's stack makes its own ACME ``Issuer`` in its namespace, whose solver attaches to the HTTP listener
  of its own ListenerSet (``components/tenant/gateway.py``), so a join adds no solver here;
* platform subdomains (``tls.platformSubdomains``): with ``acme``, one more solver, DNS-01 through the provider of
  ``tls.dns01`` (rfc2136, cloudflare, route53 or an external webhook), selected by ``dnsNames: ["*.<baseDomain>"]``
  for the one wildcard certificate of ``components/shared/subdomains.py`` only; the provider's credentials come
  from the shared stack's config secrets (:func:`dns01_credentials`) into Secret ``urban-dns01-credentials`` of
  ``urban-cert-manager``, which the solver references by key. Municipalities on a platform subdomain add no
  solver and request no certificate;
* ``internal-ca``: a self-signed root (ClusterIssuer ``urban-selfsigned`` → CA Certificate
  ``urban-root-ca`` in ``urban-cert-manager``, the namespace cert-manager reads ClusterIssuer secrets from)
  and a CA ClusterIssuer ``urban-issuer`` on it. Browsers must trust the root (distribute
  ``urban-root-ca``'s ``ca.crt``); meant for closed networks and tests.

The platform certificate (``platform-tls``) uses ``urban-issuer``; a municipality's (``<slug>-tls``) uses its own
ACME Issuer, or ``urban-issuer`` in mode ``internal-ca`` (a CA issuer needs no solver: nothing to add here either).
Only the platform requests certificates: cert-manager's chart does not aggregate its ``cert-manager-edit``
ClusterRole into ``admin``/``edit`` (``global.rbac.aggregateClusterRoles: false``, ``components/shared/operators.py``)
and the municipality groups' Roles (``components/tenant/tenancy.py``) grant nothing of cert-manager. cert-manager's
approver-policy is not installed, so the CA issuer of mode ``internal-ca`` would sign whatever a permitted
requester asks (``isCA: true`` included): the permission to create Certificates or CertificateRequests is the
boundary, and only the platform's stacks hold it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogue import names
from catalogue.shared_config import ENCRYPTED, Cloudflare, Rfc2136, Route53, SharedConfig, Webhook
from components import egress
from components.k8s import DEFAULT_UID, child, meta
from components.shared.operators import Operators

SELF_SIGNED = "urban-selfsigned"
ROOT_CA = "urban-root-ca"
ACME_ACCOUNT_KEY = "urban-issuer-acme-account"


def platform_hosts(cfg: SharedConfig) -> list[str]:
    """DNS names of the platform certificate ``platform-tls``."""
    return [f"{names.KEYCLOAK_HOST_PREFIX}.{cfg.baseDomain}", f"{names.KEYCLOAK_ADMIN_HOST_PREFIX}.{cfg.baseDomain}"]


SOLVER_POD_SECURITY: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": DEFAULT_UID, "runAsGroup": DEFAULT_UID,
                                       "seccompProfile": {"type": "RuntimeDefault"}}
"""Pod security context of the HTTP-01 solver pods. cert-manager v1.21.1 (pkg/issuer/acme/http/pod.go,
``mergePodObjectMetaWithPodTemplate``) takes the pod's securityContext from the solver's ``podTemplate.spec``
instead of its default (runAsNonRoot + RuntimeDefault, no UID); the acmesolver image is a static Go binary on
distroless static with USER 1000 (hack/containers/Containerfile.acmesolver), so any UID runs it."""


def solver(parent_ref: dict[str, str], selector: dict[str, list[str]]) -> dict[str, Any]:
    """An HTTP-01 solver whose challenge HTTPRoute attaches to ``parent_ref`` (a listener of the shared Gateway or of
    a municipality's ListenerSet). cert-manager v1.21.1 copies ``parentRefs`` into the route unchanged
    (pkg/issuer/acme/http/httproute.go ``generateHTTPRouteSpec``) and creates it in the Challenge's namespace."""
    return {"selector": selector, "http01": {"gatewayHTTPRoute": {
        "parentRefs": [{"group": "gateway.networking.k8s.io", **parent_ref}],
        "podTemplate": {"spec": {"securityContext": SOLVER_POD_SECURITY}},
    }}}


def wildcard_host(cfg: SharedConfig) -> str:
    """The one name of the wildcard certificate of platform subdomains: ``*.<baseDomain>``."""
    return f"*.{cfg.baseDomain}"


def _secret_ref(key: str) -> dict[str, str]:
    return {"name": names.DNS01_SECRET, "key": key}


def dns01_provider(dns01: Any) -> dict[str, Any]:
    """The ``dns01`` stanza of the ACME solver for ``tls.dns01`` (cert-manager v1.21.1 CRD
    vendor/charts/cert-manager-v1.21.1/templates/crd-cert-manager.io_clusterissuers.yaml, ``ACMEChallengeSolverDNS01``);
    every credential is a reference into Secret ``names.DNS01_SECRET``, never a value."""
    match dns01:
        case Rfc2136():
            return {"rfc2136": {"nameserver": dns01.nameserver, "tsigKeyName": dns01.tsigKeyName,
                                "tsigAlgorithm": dns01.tsigAlgorithm, "tsigSecretSecretRef": _secret_ref("tsig-secret"),
                                **({"protocol": dns01.protocol} if dns01.protocol else {})}}
        case Cloudflare():
            return {"cloudflare": {"apiTokenSecretRef": _secret_ref("api-token")}}
        case Route53():
            return {"route53": {"region": dns01.region, "accessKeyIDSecretRef": _secret_ref("access-key-id"),
                                "secretAccessKeySecretRef": _secret_ref("secret-access-key"),
                                **({"hostedZoneID": dns01.hostedZoneID} if dns01.hostedZoneID else {})}}
        case Webhook():
            return {"webhook": {"groupName": dns01.groupName, "solverName": dns01.solverName,
                                **({"config": dict(dns01.config)} if dns01.config else {})}}
    raise ValueError(f"stacks/Pulumi.shared.yaml: {names.CONFIG_NS}:tls.dns01: unknown provider {dns01!r}")


def dns01_solver(cfg: SharedConfig) -> dict[str, Any]:
    """The DNS-01 solver of the ACME ClusterIssuer, selected for ``*.<baseDomain>`` only.

    cert-manager v1.21.1 pkg/controller/acmeorders/util.go (``partialChallengeSpecForAuthorization``) looks a
    wildcard authorization up as ``"*." + identifier``, and pkg/controller/acmeorders/selectors/dns_names.go matches
    ``dnsNames`` exactly: this solver answers for the wildcard alone, while ``id.<baseDomain>`` and every
    municipality's own domain keep their HTTP-01 solvers."""
    return {"selector": {"dnsNames": [wildcard_host(cfg)]}, "dns01": dns01_provider(cfg.tls.dns01)}


def acme_spec(cfg: SharedConfig) -> dict[str, Any]:
    """ACME ClusterIssuer: one HTTP-01 solver for the platform hosts on the shared Gateway's ``http`` listener and
    (platform subdomains) one DNS-01 solver for the wildcard ``*.<baseDomain>``. Municipalities add no solver: those
    with a domain of their own have their own Issuer (``components/tenant/gateway.py``), those on a platform
    subdomain are covered by the one wildcard."""
    platform = solver({"kind": "Gateway", "name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY,
                       "sectionName": names.HTTP_LISTENER}, {"dnsNames": platform_hosts(cfg)})
    return {"acme": {
        "email": str(cfg.adminEmail),
        "server": str(cfg.tls.acmeServer),
        "privateKeySecretRef": {"name": ACME_ACCOUNT_KEY},
        "solvers": [platform, *([dns01_solver(cfg)] if cfg.tls.dns01 is not None else [])],
    }}


def dns01_credentials(cfg: SharedConfig, stack: str = "shared") -> dict[str, Any]:
    """The DNS provider's credentials for ``tls.dns01`` from the running stack's config secrets, as secret Outputs
    keyed like Secret ``names.DNS01_SECRET``; ``{}`` without ``tls.dns01``.

    Raises ``pulumi.RunError`` naming the file, the key and the command when one is missing, or when one is set in
    plain text (a value Pulumi does not hold as a secret: not ``secure:`` in ``stacks/Pulumi.shared.yaml``; the
    offline plan's stand-in for a ``secure:`` value counts as secret). Called before the stack registers anything
    (``urbanstack/engine/stacks.py``)."""
    wanted = cfg.tls.dns01_credentials()
    config = pulumi.Config(names.CONFIG_NS)
    problems, values = [], {}
    for key, name in wanted.items():
        full = f"{names.CONFIG_NS}:{name}"
        value = config.get_secret(name)
        if value is None:
            problems.append(f"stacks/Pulumi.{stack}.yaml: {full}: not set; tls.dns01 ({cfg.tls.dns01.provider}) "
                            f"needs it: `pulumi config set --secret {full} VALUE -s {stack}`")
            continue
        # Under the engine, Pulumi's python language host (pulumi-language-python-exec) hands the keys of `secure:`
        # values to set_all_config (PULUMI_CONFIG_SECRET_KEYS); pulumi 3.x runtime/config.py is_config_secret.
        if not (pulumi.runtime.is_config_secret(full) or pulumi.runtime.get_config(full) == ENCRYPTED):
            problems.append(f"stacks/Pulumi.{stack}.yaml: {full}: written in plain text; a credential must be a "
                            f"stack secret: `pulumi config rm {full} -s {stack}`, then `pulumi config set --secret "
                            f"{full} VALUE -s {stack}` (and rotate it)")
            continue
        values[key] = value
    if problems:
        raise pulumi.RunError("invalid DNS-01 credentials, nothing was registered:\n" + "\n".join(problems))
    return values


def dns01_secret(parent: pulumi.Resource, credentials: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Secret:
    """Secret ``names.DNS01_SECRET`` in cert-manager's namespace (its ``--cluster-resource-namespace``, chart
    v1.21.1 templates/deployment.yaml default ``$(POD_NAMESPACE)``: where a ClusterIssuer's secret references are
    read, cert-manager v1.21.1 pkg/issuer/acme/dns/dns.go ``ResourceNamespaceRef``); values stay secret."""
    return k8s.core.v1.Secret(
        names.DNS01_SECRET, metadata=meta(names.DNS01_SECRET, names.NS_CERT_MANAGER), type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in credentials.items()},
        opts=child(parent, pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["stringData"]))))


def dns01_egress(cfg: SharedConfig) -> list[dict[str, Any]]:
    """Egress rules of cert-manager's controller for DNS-01: its self check asks the zone's authoritative name
    servers on port 53 (TCP and UDP) on the internet, and RFC 2136 updates go to ``tls.dns01.nameserver``
    (``egressCidr``, possibly a private address); the providers' HTTPS APIs are covered by the ACME rule
    (port 443). ``[]`` without ``tls.dns01``."""
    if cfg.tls.dns01 is None:
        return []

    def udp_tcp(port: int) -> list[dict[str, Any]]:
        return [{"protocol": "UDP", "port": port}, {"protocol": "TCP", "port": port}]

    rules = [{"to": egress.internet(cfg.network), "ports": udp_tcp(53)}]
    dns01 = cfg.tls.dns01
    if isinstance(dns01, Rfc2136):
        port = nameserver_port(dns01.nameserver)
        net = ipaddress.ip_network(dns01.egressCidr, strict=False)
        if net.prefixlen != 0:
            rules.append({"to": [{"ipBlock": {"cidr": str(net)}}], "ports": udp_tcp(port)})
        elif port != 53:
            rules.append({"to": egress.internet(cfg.network), "ports": udp_tcp(port)})
    return rules


def nameserver_port(nameserver: str) -> int:
    """The port of an RFC 2136 ``host[:port]`` (``[v6]:port``); 53 when none is given."""
    host_end = nameserver.rfind("]")
    tail = nameserver[host_end + 1:] if host_end >= 0 else nameserver
    return int(tail.rsplit(":", 1)[1]) if ":" in tail else 53


class Certificates(pulumi.ComponentResource):
    """The platform's ClusterIssuer (ACME or internal CA)."""

    def __init__(self, name: str, cfg: SharedConfig, namespace: pulumi.Resource, operators: Operators,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("urbanstack:shared:certificates", name, None, opts)
        after = pulumi.ResourceOptions(depends_on=[namespace, operators.cert_manager])

        def cluster_issuer(issuer_name: str, spec: dict, extra: list | None = None):
            return k8s.apiextensions.CustomResource(
                issuer_name, api_version="cert-manager.io/v1", kind="ClusterIssuer",
                metadata=meta(issuer_name, None), spec=spec,
                opts=child(self, pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=extra or []))))

        if cfg.tls.issuer == "acme":
            extra = []
            if cfg.tls.dns01 is not None:
                self.dns01_secret = dns01_secret(self, dns01_credentials(cfg), after)
                extra.append(self.dns01_secret)
            self.issuer = cluster_issuer(names.CLUSTER_ISSUER, acme_spec(cfg), extra)
        else:
            self.self_signed = cluster_issuer(SELF_SIGNED, {"selfSigned": {}})
            self.root_ca = k8s.apiextensions.CustomResource(
                ROOT_CA, api_version="cert-manager.io/v1", kind="Certificate",
                metadata=meta(ROOT_CA, names.NS_CERT_MANAGER),
                spec={
                    "isCA": True,
                    "commonName": f"Urban Stack CA ({cfg.operatorName})"[:64],
                    "secretName": ROOT_CA,
                    "duration": "87600h",
                    "renewBefore": "720h",
                    "privateKey": {"algorithm": "ECDSA", "size": 384},
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": SELF_SIGNED},
                },
                opts=child(self, pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(
                    depends_on=[self.self_signed]))))
            self.issuer = cluster_issuer(names.CLUSTER_ISSUER, {"ca": {"secretName": ROOT_CA}}, [self.root_ca])
        self.register_outputs({})
