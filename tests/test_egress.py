"""Egress leaves the cluster only for "the internet", one definition (components/egress.py), and the API server is
reached only by the pods that talk to it, only at its addresses (issue 23 item 8, the network half).

Stated on the real offline plan (every egress rule of every stack) and on the flows built from a shared config
that names the cluster's ranges (``network``)."""

from __future__ import annotations

import ipaddress

import pytest

from catalogue import names
from catalogue.shared_config import OffsiteBackup, parse
from catalogue.tenants import load_all
from components import egress
from components.base import SharedRefs, TenantContext
from components.shared import platform
from components.tenant import netpol
from tests.config_samples import SHARED_VALID
from urbanstack.checks.base import load_plan

NOT_INTERNET = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8",
                "0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4"]
"""The ranges issue 23 names: never "the internet"."""
METADATA = ipaddress.ip_address("169.254.169.254")
METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")
CGNAT_POD = ipaddress.ip_address("100.64.3.7")
API = "192.0.2.10/32"
NETWORK = {"podCidrs": ["10.244.0.0/16", "fd00:10:244::/56"], "serviceCidrs": ["10.96.0.0/12"],
           "apiServerCidrs": [API]}


def admits(rule: dict, address: str) -> bool:
    """Whether an egress rule's ipBlock peers admit an address (Kubernetes: in cidr and in no except)."""
    ip = ipaddress.ip_address(address)
    for peer in rule.get("to") or []:
        block = peer.get("ipBlock")
        if block and ip in ipaddress.ip_network(block["cidr"]) and not any(
                ip in ipaddress.ip_network(e) for e in block.get("except") or []):
            return True
    return False


def egress_rules(plan_dir) -> list[tuple[str, dict, dict]]:
    """(file, rule, policy spec) of every egress rule of every NetworkPolicy in the plan."""
    plan = load_plan(plan_dir)
    return [(plan.rel(po.path), rule, po.obj["spec"]) for po in plan.objects if po.kind == "NetworkPolicy"
            for rule in po.obj["spec"].get("egress") or []]


def ports(rule: dict) -> set[int]:
    return {int(p["port"]) for p in rule.get("ports") or []}


@pytest.fixture(scope="module")
def configured():
    return parse({**SHARED_VALID, "network": NETWORK})


def test_the_internet_excludes_every_special_purpose_range_and_the_configured_cluster_ranges(configured):
    v4, v6 = egress.internet(configured.network)
    assert v4 == {"ipBlock": {"cidr": "0.0.0.0/0", "except": [*NOT_INTERNET, "192.0.2.10/32"]}}, \
        "pod and service ranges inside 10.0.0.0/8 are excepted already; the API server's address is added"
    assert egress.internet_excepts() == NOT_INTERNET
    assert v6["ipBlock"]["cidr"] == "::/0"
    rule = {"to": [v4, v6]}
    for address in ("fd00:ec2::254", "fe80::1", "::1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "ff02::1"):
        assert not admits(rule, address), address
    assert admits(rule, "2a00:1450:4001:80b::200e") and admits(rule, "203.0.113.5")


def test_no_egress_rule_of_the_plan_reaches_the_metadata_service_or_a_cgnat_pod_range(real_plan_dir):
    """Issue 23 item 8: the "internet" rules excepted RFC 1918 only; 169.254.169.254 and 100.64.0.0/10 were open."""
    rules = egress_rules(real_plan_dir)
    assert rules
    for file, rule, _ in rules:
        for address in (METADATA, CGNAT_POD):
            if admits(rule, str(address)):
                # Prometheus reaches the nodes' kubelets and exporters wherever they are (platform.py "scrape").
                assert "urban-monitoring-scrape" in file, f"{file}: {rule}"


def test_every_rule_towards_0_0_0_0_slash_0_carries_the_one_except_list(real_plan_dir):
    for file, rule, _ in egress_rules(real_plan_dir):
        for peer in rule.get("to") or []:
            block = peer.get("ipBlock") or {}
            if block.get("cidr") == "0.0.0.0/0" and "urban-monitoring-scrape" not in file:
                assert block.get("except") == NOT_INTERNET, file
            if block.get("cidr") == "::/0" and "urban-monitoring-scrape" not in file:
                assert block.get("except") == list(egress.NOT_INTERNET_V6), file


def test_keycloak_leaves_the_cluster_for_directories_and_identity_providers_on_the_internet_only(configured):
    (keycloak,) = [f for f in platform.flows(configured) if f[:2] == (names.NS_IDENTITY, "keycloak")]
    (rule,) = keycloak[4]
    assert ports(rule) == {389, 443, 636}
    assert admits(rule, "203.0.113.5"), "a municipality's directory on the internet"
    for address in ("192.0.2.10", "10.96.0.1", "10.244.1.5", "169.254.169.254", "100.64.0.1"):
        assert not admits(rule, address), f"Keycloak must not reach {address}"


def test_the_api_server_is_reached_at_its_configured_address_by_the_api_clients_only(configured):
    api_rules = [(ns, name, out) for ns, name, _, _, out in platform.flows(configured) if out
                 for rule in out if ports(rule) & {6443}]
    assert {(ns, name) for ns, name, _ in api_rules} == {
        (ns, "kube-api") for ns in platform.API_CLIENT_NAMESPACES if ns != names.NS_IDENTITY} | {
        (names.NS_IDENTITY, "kube-api"), (names.NS_IDENTITY, "kube-api-db")}
    for _, _, out in api_rules:
        (rule,) = out
        assert rule == {"to": [{"ipBlock": {"cidr": API}}], "ports": [{"protocol": "TCP", "port": 443},
                                                                      {"protocol": "TCP", "port": 6443}]}


def test_without_a_configured_api_server_the_api_clients_reach_the_private_ranges_only():
    rule = egress.api_server(None)
    assert [p["ipBlock"]["cidr"] for p in rule["to"]] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    for address in ("203.0.113.5", "169.254.169.254", "100.64.0.1"):
        assert not admits(rule, address), address


def test_database_pods_reach_443_and_6443_only_at_the_api_server_and_their_backup_target(real_plan_dir):
    """Issue 23 item 8: the municipality's database pods had 443/6443 to 0.0.0.0/0."""
    for file, rule, spec in egress_rules(real_plan_dir):
        if spec["podSelector"].get("matchLabels") != {"cnpg.io/cluster": names.DB_CLUSTER}:
            continue
        if ports(rule) & {6443}:
            assert rule == egress.api_server(None), file
        assert not (admits(rule, "203.0.113.5") and 6443 in ports(rule)), f"{file}: the API port on the internet"


def tenant_context(slug: str, offsite: OffsiteBackup | None, network=None) -> TenantContext:
    shared = SharedRefs(gateway_name="urban-gateway", gateway_namespace=names.NS_GATEWAY, cluster_issuer="x",
                        keycloak_url="https://id.example", s3_endpoint="x", s3_mode="rook-ceph", storage_class="x",
                        offsite_backup=offsite, network=network)
    return TenantContext(tenant=load_all()[slug], shared=shared, namespace=slug, issuer_url="x")


def test_the_offsite_egress_cidr_is_where_the_database_backups_leave(configured):
    """Issue 23 item 8: backup.offsite.egressCidr was documented but never applied."""
    offsite = OffsiteBackup(endpoint="https://s3.offsite.example", bucket="offsite-backups",
                            egressCidr="198.51.100.0/24")
    rule = netpol.to_backup(tenant_context("verl", offsite, configured.network))
    assert rule == {"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    default = OffsiteBackup(endpoint="https://s3.offsite.example", bucket="offsite-backups")
    assert netpol.to_backup(tenant_context("verl", default, configured.network)) == \
        egress.to_internet(configured.network, 443), "0.0.0.0/0 (the default) means the internet, not the cluster"
    own = netpol.to_backup(tenant_context("rheda-wiedenbrueck", offsite))
    assert own == egress.to_internet(None, 443), "a municipality's own target is on the internet"
    assert netpol.to_backup(tenant_context("verl", None))["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": names.NS_STORAGE}}, "no off-site target: Ceph's RGW"


def test_the_planned_database_policy_of_a_municipality_applies_the_offsite_target(real_plan_dir):
    """The example config is production on rook-ceph with an off-site target (egressCidr left at 0.0.0.0/0)."""
    spec = next(spec for file, _, spec in egress_rules(real_plan_dir)
                if file.endswith("verl/networkpolicy-verl-database.yaml"))
    assert egress.to_internet(None, 443) in spec["egress"]
    assert not any(names.NS_STORAGE in str(rule) for rule in spec["egress"]), "backups leave the platform"


def test_the_operators_offsite_target_has_an_egress_rule_for_the_shared_stack(configured):
    offsite = parse({**SHARED_VALID, "backup": {"offsite": {"endpoint": "https://s3.offsite.example",
                                                             "bucket": "offsite-backups",
                                                             "egressCidr": "198.51.100.0/24"}}})
    assert platform.offsite_egress(offsite) == {"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}],
                                                "ports": [{"protocol": "TCP", "port": 443}]}
    assert platform.offsite_egress(parse({**SHARED_VALID, "profile": "dev", "backup": {}})) is None


def test_a_recovery_cluster_reads_the_offsite_target_and_reaches_only_the_api_server_on_6443(tmp_path):
    """The restore drill's recovery cluster gets the running cluster's egress (urbanstack/ops/restore.py)."""
    import yaml

    from urbanstack.ops.restore import restore

    *_, manifests = restore("verl", tmp_path, dry_run=True)
    policy = next(d for d in yaml.safe_load_all(manifests) if d["kind"] == "NetworkPolicy")
    rules = policy["spec"]["egress"]
    assert egress.to_internet(None, 443) in rules, "verl's backups are at the off-site target (egressCidr 0.0.0.0/0)"
    assert egress.api_server(None) in rules
    for rule in rules:
        assert not admits(rule, "169.254.169.254") and not (admits(rule, "203.0.113.5") and 6443 in ports(rule))


def test_keycloaks_database_pods_reach_the_offsite_target_their_backups_go_to():
    """Keycloak's database archives to the off-site target when one is configured (issue 23 item 1): its pods'
    policy must let them reach it, and no longer the in-cluster RGW; without one (dev) they reach the platform's
    object store."""
    offsite = parse({**SHARED_VALID, "backup": {"offsite": {"endpoint": "https://s3.offsite.example",
                                                             "bucket": "offsite-backups",
                                                             "egressCidr": "198.51.100.0/24"}}})

    def keycloak_db_egress(cfg):
        return next(egress for ns, name, _, _, egress in platform.flows(cfg)
                    if (ns, name) == (names.NS_IDENTITY, "keycloak-db"))

    rules = keycloak_db_egress(offsite)
    assert {"to": [{"ipBlock": {"cidr": "198.51.100.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]} in rules
    assert not any(names.NS_STORAGE in str(rule) for rule in rules), "the backups leave the platform"
    dev = parse({**SHARED_VALID, "profile": "dev", "backup": {}})
    assert platform.s3_egress(dev) in keycloak_db_egress(dev)
