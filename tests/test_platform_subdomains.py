"""Platform subdomains (issue 21, item 2): a municipality without a domain of its own is served below the platform's
baseDomain, through one wildcard listener and one wildcard certificate that the platform requests once (ACME DNS-01,
credentials from a stack secret). The tenant file chooses: its own domain, or the platform subdomain."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from catalogue import names
from catalogue.modules import CATALOGUE
from catalogue.shared_config import (
    DNS01_CREDENTIAL,
    ENCRYPTED,
    OFFSITE_CREDENTIALS,
    SHARED_CONFIG,
    ConfigError,
    load_file,
    parse,
    stack_config,
)
from catalogue.tenants import TenantError, load_all, new_tenant
from tests.config_samples import SHARED_VALID
from tests.tenant_texts import tenant_text

BASE = load_file().baseDomain
"""The example platform's baseDomain (stacks/Pulumi.shared.yaml offers platform subdomains, DNS-01 by RFC 2136)."""
RFC2136 = {"provider": "rfc2136", "nameserver": "ns1.example.de", "tsigKeyName": "acme"}


def subdomain_text(slug: str, ags: str, modules: str = "") -> str:
    """A valid tenant file on a platform subdomain (no ``domain``), booking ``modules`` (YAML lines)."""
    text = tenant_text(slug=slug, ags=ags).replace("domain: halle.example.org\n", "platformSubdomain: true\n")
    return text + (f"modules:\n{modules}" if modules else "")


ALL_MODULES = "".join(f"  {key}: {{}}\n" for key in CATALOGUE)


@pytest.fixture
def mixed(tmp_path) -> Path:
    """Two municipalities on platform subdomains (every module booked) and one with its own domain."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "borgholzhausen.yaml").write_text(subdomain_text("borgholzhausen", "05754004", ALL_MODULES))
    (folder / "werther.yaml").write_text(subdomain_text("werther", "05754052", "  dashboards: {}\n"))
    (folder / "halle.yaml").write_text(tenant_text() + "modules:\n  dashboards: {}\n")
    return folder


# -- the tenant file chooses -----------------------------------------------------------------------------------

def test_the_example_tenant_files_keep_their_own_domain_unchanged():
    tenants = load_all()
    assert tenants and all(t.domain and not t.platformSubdomain for t in tenants.values())


def test_a_tenant_file_chooses_its_own_domain_or_the_platform_subdomain(mixed):
    tenants = load_all([mixed])
    assert tenants["borgholzhausen"].platformSubdomain and tenants["borgholzhausen"].domain is None
    assert tenants["halle"].domain == "halle.example.org" and not tenants["halle"].platformSubdomain


@pytest.mark.parametrize(("text", "message"), [
    (tenant_text().replace("domain: halle.example.org\n", ""), "add a line 'domain: …'"),
    (tenant_text() + "platformSubdomain: true\n", "domain and platformSubdomain: true exclude each other"),
], ids=["neither", "both"])
def test_a_tenant_file_with_neither_or_both_choices_is_refused(tmp_path, text, message):
    (tmp_path / "halle.yaml").write_text(text)
    with pytest.raises(TenantError, match=re.escape(message)):
        load_all([tmp_path])


def test_a_platform_subdomain_is_refused_when_the_platform_does_not_offer_it(tmp_path, mixed):
    config = tmp_path / "Pulumi.shared.yaml"
    config.write_text("config:\n  urban-stack:baseDomain: urbanstack.example.de\n  urban-stack:tls:\n    issuer: acme\n")
    with pytest.raises(TenantError) as exc:
        load_all([mixed], shared_config=config)
    refused = {p.file for p in exc.value.problems}
    assert refused == {str(mixed / "borgholzhausen.yaml"), str(mixed / "werther.yaml")}
    assert "urban-stack:tls.platformSubdomains is not true" in str(exc.value)


@pytest.mark.parametrize("choice", ["domain", "platform-subdomain"])
def test_tenants_new_writes_either_choice(tmp_path, choice):
    values = {"name": "Werther (Westf.)", "ags": "05754052", "population": 11000}
    if choice == "domain":
        values["domain"] = "urbanstack.werther.example"
    else:
        values.update(platform_subdomain=True, contact_email="it@werther.example")
    target = new_tenant(tmp_path, "werther", **values)
    data = yaml.safe_load(target.read_text())
    assert (data.get("domain"), data.get("platformSubdomain")) == (
        ("urbanstack.werther.example", None) if choice == "domain" else (None, True))
    assert load_all([tmp_path])["werther"].slug == "werther"


# -- hosts -----------------------------------------------------------------------------------------------------

def test_its_hosts_are_one_label_under_base_domain(plan_stack, mixed):
    plan = plan_stack("borgholzhausen", mixed)
    urls = plan.outputs["urls"]
    assert set(urls) == set(CATALOGUE)
    for key, url in urls.items():
        host = url.removeprefix("https://")
        label, _, below = host.partition(".")
        assert below == BASE and label == f"borgholzhausen-{CATALOGUE[key].name}", host
    hostnames = {h for r in plan.find("HTTPRoute") for h in r.inputs["spec"].get("hostnames", [])}
    assert hostnames and all(h.partition(".")[2] == BASE for h in hostnames)


def test_a_municipality_with_its_own_domain_keeps_module_dot_domain(plan_stack, mixed):
    assert plan_stack("halle", mixed).outputs["urls"] == {"dashboards": "https://dashboards.halle.example.org"}


def _collision_catalogue(monkeypatch):
    """A catalogue with a module whose name holds a '-': only then can two slugs give one host label."""
    from catalogue import subdomains

    monkeypatch.setattr(subdomains, "CATALOGUE", {**CATALOGUE, "dataDashboards": SimpleNamespace(
        name="data-dashboards")})


def test_two_municipalities_whose_hosts_collide_are_refused_naming_both_files(tmp_path, monkeypatch):
    """verl + module data-dashboards and verl-data + module dashboards are both verl-data-dashboards.<base>."""
    _collision_catalogue(monkeypatch)
    (tmp_path / "verl.yaml").write_text(subdomain_text("verl", "05754044"))
    (tmp_path / "verl-data.yaml").write_text(subdomain_text("verl-data", "05754048"))
    with pytest.raises(TenantError) as exc:
        load_all([tmp_path])
    (problem,) = [p for p in exc.value.problems if "collide" in p.message]
    named = {str(tmp_path / "verl.yaml"), str(tmp_path / "verl-data.yaml")}
    assert problem.file in named and (named - {problem.file}).pop() in problem.message
    assert "verl-data-dashboards.<baseDomain>" in problem.message and problem.path == "platformSubdomain"


def test_hosts_of_a_municipality_with_its_own_domain_never_collide_with_platform_subdomains(tmp_path, monkeypatch):
    _collision_catalogue(monkeypatch)
    (tmp_path / "verl.yaml").write_text(subdomain_text("verl", "05754044"))
    (tmp_path / "verl-data.yaml").write_text(tenant_text("verl-data", "Verl Daten", "05754048", "verl-data.example"))
    assert set(load_all([tmp_path])) == {"verl", "verl-data"}


def test_a_host_of_the_platform_itself_is_refused(monkeypatch):
    """id.<base> and id-admin.<base> are Keycloak's. Slugs of 3+ characters cannot reach them with today's
    module names; a module named 'admin' and a slug 'id' could."""
    from catalogue import subdomains

    monkeypatch.setattr(subdomains, "CATALOGUE", {"admin": SimpleNamespace(name="admin")})
    (problem,) = subdomains.host_collisions({"tenants/id.yaml": "id"})
    assert problem[0] == "tenants/id.yaml" and "Keycloak's admin console" in problem[2]


def test_with_todays_catalogue_no_two_slugs_can_share_a_host_label():
    """No module name holds a '-', so <slug>-<module> ends in the module name and starts with the whole slug."""
    assert all("-" not in mod.name for mod in CATALOGUE.values())


# -- no certificate of its own; one wildcard for the whole platform -----------------------------------------------

def test_a_municipality_on_a_platform_subdomain_gets_no_certificate_and_no_issuer_of_its_own(plan_stack, mixed):
    plan = plan_stack("borgholzhausen", mixed)
    kinds = {r.inputs["kind"] for r in plan.kube_objects()}
    assert not kinds & {"Certificate", "Issuer", "ClusterIssuer", "ReferenceGrant"}
    # Its ListenerSet holds the internal back channel only: its hosts are on the shared wildcard listener.
    (listener_set,) = plan.find("ListenerSet")
    assert [lst["name"] for lst in listener_set.inputs["spec"]["listeners"]] == [names.LS_BACKCHANNEL]
    (issuer,) = plan_stack("shared", mixed).find("ClusterIssuer", names.CLUSTER_ISSUER)
    solvers = issuer.inputs["spec"]["acme"]["solvers"]
    assert [s["selector"] for s in solvers if "http01" in s] == [{"dnsNames": [f"id.{BASE}", f"id-admin.{BASE}"]}]
    assert [s["selector"] for s in solvers if "dns01" in s] == [{"dnsNames": [f"*.{BASE}"]}]


def test_its_namespace_is_admitted_by_the_wildcard_listener_and_an_own_domain_namespace_is_not(plan_stack, mixed):
    from components.shared.subdomains import platform_subdomain_listener

    selector = platform_subdomain_listener(load_file())["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]

    def labels(slug):
        (ns,) = plan_stack(slug, mixed).find("Namespace", slug)
        return ns.inputs["metadata"]["labels"]

    assert selector.items() <= labels("borgholzhausen").items()
    assert not selector.items() <= labels("halle").items()


def test_the_wildcard_certificate_is_requested_once_for_the_whole_platform(plan_stack, mixed):
    plans = [plan_stack(stack, mixed) for stack in ("shared", "borgholzhausen", "werther", "halle")]
    certificates = [r for p in plans for r in p.find("Certificate")]
    wildcards = [c for c in certificates if any(d.startswith("*.") for d in c.inputs["spec"]["dnsNames"])]
    (wildcard,) = wildcards
    assert wildcard.inputs["metadata"]["namespace"] == names.NS_GATEWAY
    assert wildcard.inputs["spec"]["dnsNames"] == [f"*.{BASE}"]
    assert wildcard.inputs["spec"]["secretName"] == names.PLATFORM_SUBDOMAINS_TLS_SECRET
    assert wildcard.inputs["spec"]["issuerRef"]["name"] == names.CLUSTER_ISSUER
    # Every other certificate is the platform's own hosts or the own-domain municipality's.
    others = sorted(h for c in certificates if c is not wildcard for h in c.inputs["spec"]["dnsNames"])
    assert others == sorted([f"id.{BASE}", f"id-admin.{BASE}", "dashboards.halle.example.org"])


def test_a_municipality_joining_on_a_platform_subdomain_changes_neither_issuer_nor_wildcard(plan_stack, mixed):
    def certificates_part(folder):
        plan = plan_stack("shared", folder)
        return sorted(((r.inputs["kind"], r.inputs["metadata"].get("name"), r.inputs["spec"])
                       for r in plan.kube_objects() if r.inputs["kind"] in ("ClusterIssuer", "Certificate")),
                      key=lambda x: (x[0], x[1]))

    before = certificates_part(mixed)
    (mixed / "versmold.yaml").write_text(subdomain_text("versmold", "05754048", ALL_MODULES))
    assert certificates_part(mixed) == before


def test_the_wildcard_is_solved_by_dns01_and_every_other_name_keeps_http01(plan_stack):
    (issuer,) = plan_stack("shared").find("ClusterIssuer", names.CLUSTER_ISSUER)
    dns01 = [s for s in issuer.inputs["spec"]["acme"]["solvers"] if "dns01" in s]
    assert dns01 == [{"selector": {"dnsNames": [f"*.{BASE}"]}, "dns01": {"rfc2136": {
        "nameserver": "ns1.kreis-guetersloh.example:53", "tsigKeyName": "urbanstack-acme",
        "tsigAlgorithm": "HMACSHA256", "tsigSecretSecretRef": {"name": names.DNS01_SECRET, "key": "tsig-secret"}}}}]


# -- DNS-01 credentials: a stack secret, never plain configuration ------------------------------------------------

def test_the_dns01_credentials_come_from_a_stack_secret_into_cert_managers_namespace(monkeypatch):
    import pulumi

    from urbanstack.engine.plan import plan_shared

    # As `pulumi config set --secret` marks it for the engine (PULUMI_CONFIG_SECRET_KEYS).
    key = f"urban-stack:{DNS01_CREDENTIAL}"
    real = pulumi.runtime.is_config_secret
    monkeypatch.setattr(pulumi.runtime, "is_config_secret", lambda k: k == key or real(k))
    plan = plan_shared(config={**stack_config(SHARED_CONFIG), f"urban-stack:{DNS01_CREDENTIAL}": "tsig-drill"})
    (secret,) = plan.find("Secret", names.DNS01_SECRET, names.NS_CERT_MANAGER)
    assert secret.inputs["stringData"] == {"tsig-secret": "tsig-drill"}
    assert [list(p) for p in secret.secret_paths] in ([["stringData"]], [["stringData", "tsig-secret"]])
    (issuer,) = plan.find("ClusterIssuer", names.CLUSTER_ISSUER)
    assert "tsig-drill" not in repr(issuer.inputs), "the issuer names the Secret, never the value"
    assert f"{secret.type}::{secret.name}" in issuer.depends_on


def test_a_dns01_credential_written_in_plain_text_is_refused_before_anything_is_registered():
    from urbanstack.engine.plan import plan_shared

    with pytest.raises(Exception, match=r"stacks/Pulumi\.shared\.yaml: urban-stack:dns01Credential: written in "
                                        r"plain text; a credential must be a stack secret"):
        plan_shared(config={**stack_config(SHARED_CONFIG), f"urban-stack:{DNS01_CREDENTIAL}": "plain-tsig"})


def test_a_missing_dns01_credential_is_refused_naming_file_key_and_command():
    from urbanstack.engine.offline import run_stack
    from urbanstack.engine.program import SHARED, build

    config = {**stack_config(SHARED_CONFIG), **{f"urban-stack:{n}": ENCRYPTED for n in OFFSITE_CREDENTIALS.values()}}
    with pytest.raises(Exception, match=r"urban-stack:dns01Credential: not set; tls\.dns01 \(rfc2136\) needs it: "
                                        r"`pulumi config set --secret urban-stack:dns01Credential VALUE -s shared`"):
        run_stack(SHARED, lambda: build(SHARED), project=names.PROJECT, config=config)


def test_a_plain_text_credential_in_the_stack_file_is_refused_by_every_reader(tmp_path):
    text = SHARED_CONFIG.read_text() + f"  urban-stack:{DNS01_CREDENTIAL}: plain-tsig\n"
    (tmp_path / "Pulumi.shared.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"urban-stack:dns01Credential: written in plain text"):
        load_file(tmp_path / "Pulumi.shared.yaml")
    secure = SHARED_CONFIG.read_text() + f"  urban-stack:{DNS01_CREDENTIAL}:\n    secure: v1:AAAA\n"
    (tmp_path / "Pulumi.shared.yaml").write_text(secure)
    assert load_file(tmp_path / "Pulumi.shared.yaml").tls.platformSubdomains


def test_a_webhook_config_with_a_secret_value_is_refused():
    webhook = {"provider": "webhook", "groupName": "acme.stackit.de", "solverName": "stackit",
               "config": {"projectId": "p-1", "auth": {"apiToken": "s3cr3t"}}}
    with pytest.raises(ConfigError, match=r"config\.auth\.apiToken: looks like a secret value in plain configuration"):
        parse({**SHARED_VALID, "tls": {"platformSubdomains": True, "dns01": webhook}})
    webhook["config"] = {"projectId": "p-1", "secretRef": {"name": names.DNS01_SECRET, "key": "credential"}}
    tls = parse({**SHARED_VALID, "tls": {"platformSubdomains": True, "dns01": webhook}}).tls
    assert tls.dns01_credentials() == {"credential": DNS01_CREDENTIAL}


@pytest.mark.parametrize(("provider", "stanza"), [
    ({"provider": "cloudflare"}, {"cloudflare": {"apiTokenSecretRef": {"name": names.DNS01_SECRET,
                                                                        "key": "api-token"}}}),
    ({"provider": "route53", "hostedZoneID": "Z123"}, {"route53": {
        "region": "eu-central-1", "hostedZoneID": "Z123",
        "accessKeyIDSecretRef": {"name": names.DNS01_SECRET, "key": "access-key-id"},
        "secretAccessKeySecretRef": {"name": names.DNS01_SECRET, "key": "secret-access-key"}}}),
    ({"provider": "webhook", "groupName": "acme.hetzner.example", "solverName": "hetzner",
      "config": {"secretName": names.DNS01_SECRET, "zoneName": "example.de"}},
     {"webhook": {"groupName": "acme.hetzner.example", "solverName": "hetzner",
                  "config": {"secretName": names.DNS01_SECRET, "zoneName": "example.de"}}}),
], ids=["cloudflare", "route53", "webhook"])
def test_each_provider_references_its_credentials_by_secret_key(provider, stanza):
    from components.shared.certificates import dns01_provider

    cfg = parse({**SHARED_VALID, "tls": {"platformSubdomains": True, "dns01": provider}})
    assert dns01_provider(cfg.tls.dns01) == stanza


@pytest.mark.parametrize(("tls", "message"), [
    ({"platformSubdomains": True}, "tls.dns01: required with tls.platformSubdomains and issuer 'acme'"),
    ({"dns01": RFC2136}, "tls.dns01: used only for the wildcard certificate"),
], ids=["subdomains-without-dns01", "dns01-without-subdomains"])
def test_the_shared_config_pairs_platform_subdomains_with_a_dns01_solver(tls, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse({**SHARED_VALID, "tls": tls})


def test_the_internal_ca_signs_the_wildcard_without_dns01():
    assert parse({**SHARED_VALID, "tls": {"issuer": "internal-ca", "platformSubdomains": True}}).tls.dns01 is None


def test_cert_manager_may_reach_name_servers_for_dns01(plan_stack):
    """Its self check asks the zone's authoritative servers (port 53, UDP and TCP); RFC 2136 updates go to the
    configured server, which may sit in a private network (egressCidr)."""
    from components.shared.certificates import dns01_egress

    (policy,) = plan_stack("shared").find("NetworkPolicy", f"{names.NS_CERT_MANAGER}-acme")
    ports = [p for rule in policy.inputs["spec"]["egress"] for p in rule.get("ports", [])]
    assert {"protocol": "UDP", "port": 53} in ports and {"protocol": "TCP", "port": 53} in ports
    private = parse({**SHARED_VALID, "tls": {"platformSubdomains": True, "dns01": {
        **RFC2136, "nameserver": "10.20.0.53:5353", "egressCidr": "10.20.0.53/32"}}})
    assert dns01_egress(private)[1] == {"to": [{"ipBlock": {"cidr": "10.20.0.53/32"}}], "ports": [
        {"protocol": "UDP", "port": 5353}, {"protocol": "TCP", "port": 5353}]}


# -- routes on the wildcard listener --------------------------------------------------------------------------------

def _route(namespace: str, host: str, section: str = names.PLATFORM_SUBDOMAINS_LISTENER) -> dict:
    return {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": namespace},
            "spec": {"parentRefs": [{"name": names.GATEWAY_NAME, "namespace": names.NS_GATEWAY,
                                     "sectionName": section}], "hostnames": [host]}}


def test_a_route_on_the_wildcard_listener_claims_only_its_own_municipalitys_hosts():
    from catalogue.subdomains import route_claims

    slugs = {"werther", "borgholzhausen"}
    assert route_claims([_route("werther", f"werther-dashboards.{BASE}")], slugs, BASE) == []
    (foreign,) = route_claims([_route("werther", f"borgholzhausen-dashboards.{BASE}")], slugs, BASE)
    assert "not a host of municipality werther" in foreign
    (platform,) = route_claims([_route("werther", f"id.{BASE}")], slugs, BASE)
    assert "'id." in platform
    (outsider,) = route_claims([_route("halle", f"halle-dashboards.{BASE}")], slugs, BASE)
    assert "not the namespace of a municipality on a platform subdomain" in outsider
    # Routes on other listeners are not this check's business.
    assert route_claims([_route("halle", "x.example", names.LS_HTTPS)], slugs, BASE) == []


def test_the_route_parent_is_the_wildcard_listener_of_the_shared_gateway():
    from components.shared.subdomains import platform_subdomain_listener, platform_subdomain_route_parent

    parent = platform_subdomain_route_parent()
    listener = platform_subdomain_listener(load_file())
    assert (parent["name"], parent["namespace"], parent["sectionName"]) == (
        names.GATEWAY_NAME, names.NS_GATEWAY, listener["name"])
    assert listener["hostname"] == f"*.{BASE}" and listener["tls"]["certificateRefs"][0]["name"] == \
        names.PLATFORM_SUBDOMAINS_TLS_SECRET
