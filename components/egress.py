"""Where pods may go outside the cluster: the ONE definition of "the internet", and the Kubernetes API server.

Every egress rule that leaves the cluster is built from these two, in the shared stack
(``components/shared/platform.py``) and in every municipality's (``components/tenant/netpol.py``,
``components/tenant/database.py``); ``docs/operations.md`` ("Egress") says the same.

* :func:`internet`: IPv4 ``0.0.0.0/0`` except every range that is not the public internet, namely the private
  ranges (RFC 1918), shared address space / CGNAT (100.64.0.0/10, where pod networks often live),
  link-local (169.254.0.0/16: cloud metadata services), loopback, "this network" (0.0.0.0/8), IETF protocol
  assignments (192.0.0.0/24), benchmarking (198.18.0.0/15), multicast and reserved (224.0.0.0/4, 240.0.0.0/4) (RFC
  6890 special-purpose registry); and IPv6 ``::/0`` except unique-local (fc00::/7, also AWS's IPv6 metadata
  address), link-local, loopback and unspecified, multicast, IPv4-mapped and the NAT64 prefix (both reach IPv4
  ranges), discard-only and documentation ranges; in both, the cluster's own pod, service and API-server ranges
  when the shared config names them (``network``). So no rule built from it reaches a pod, a Service, a node's
  metadata endpoint or the API server.
* :func:`api_server`: 443/6443 to the API server's addresses (shared config ``network.apiServerCidrs``; without
  them the RFC 1918 ranges, where a self-managed control plane lives), only for the pods that talk to the API.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from components.k8s import tcp

NOT_INTERNET = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
                "0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4")
"""IPv4 ranges that are never "the internet" (RFC 6890 special-purpose ranges a pod could be tricked into)."""
NOT_INTERNET_V6 = ("fc00::/7", "fe80::/10", "::1/128", "::/128", "ff00::/8", "::ffff:0:0/96", "64:ff9b::/96",
                   "64:ff9b:1::/48", "100::/64", "2001:db8::/32")
"""IPv6 ranges that are never "the internet" (RFC 6890; IPv4-mapped and NAT64 prefixes lead to IPv4 ranges)."""
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
"""Where a self-managed control plane's API server lives when ``network.apiServerCidrs`` does not say (RFC 1918;
not the CGNAT range, where pod networks often live)."""
KUBE_API_PORTS = (443, 6443)


def _cluster_ranges(network: Any) -> list[str]:
    if network is None:
        return []
    return [str(n) for n in (*network.podCidrs, *network.serviceCidrs, *network.apiServerCidrs)]


def internet_excepts(network: Any = None, version: int = 4) -> list[str]:
    """The ``except`` list of :func:`internet` for IP ``version``: :data:`NOT_INTERNET` (:data:`NOT_INTERNET_V6`)
    plus the configured cluster ranges of that version that it does not already cover."""
    base = NOT_INTERNET if version == 4 else NOT_INTERNET_V6
    fixed = [ipaddress.ip_network(n) for n in base]
    out = list(base)
    for cidr in _cluster_ranges(network):
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version == version and not any(net.subnet_of(f) for f in fixed) and str(net) not in out:
            out.append(str(net))
    return out


def internet(network: Any = None) -> list[dict]:
    """NetworkPolicy peers: the public internet, IPv4 and IPv6 (module docstring). ``network``: shared config
    ``network``."""
    return [{"ipBlock": {"cidr": "0.0.0.0/0", "except": internet_excepts(network, 4)}},
            {"ipBlock": {"cidr": "::/0", "except": internet_excepts(network, 6)}}]


def to_internet(network: Any, *ports: int) -> dict:
    """Egress rule: the public internet on ``ports``."""
    return {"to": internet(network), "ports": tcp(*ports)}


def to_cidr(cidr: str, network: Any, *ports: int) -> dict:
    """Egress rule to a provider's address range (e.g. ``egressCidr`` of an S3 target) on ``ports``: the range
    itself when it names one, :func:`internet` when it is ``0.0.0.0/0`` (the default: "anywhere on the internet",
    never the cluster or the metadata service)."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.prefixlen == 0:
        return to_internet(network, *ports)
    return {"to": [{"ipBlock": {"cidr": str(net)}}], "ports": tcp(*ports)}


def api_server_ranges(network: Any = None) -> list[str]:
    configured = [str(n) for n in network.apiServerCidrs] if network is not None else []
    return configured or list(PRIVATE)


def api_server(network: Any = None) -> dict:
    """Egress rule: the Kubernetes API server on 443/6443 (the pods that talk to it only)."""
    return {"to": [{"ipBlock": {"cidr": c}} for c in api_server_ranges(network)], "ports": tcp(*KUBE_API_PORTS)}

