"""The shared stack: what it registers per profile, TLS issuer and storage mode, and what it hands tenants."""

from __future__ import annotations

import copy
import json
import re

import pytest

from catalogue import labels, names
from catalogue.paths import ROOT
from catalogue.prices import load_prices, load_provider, with_provider
from catalogue.shared_config import SHARED_CONFIG, stack_config
from catalogue.versions import CHARTS, MANIFESTS
from components.shared import realm_job as rj
from components.shared.monitoring import HOURS_PER_MONTH
from components.shared.operators import place_keycloak_operator
from components.shared.platform import KUBE_API_PORTS
from urbanstack.checks.pod_security import evaluate as pod_security
from urbanstack.engine.offline import StackPlan
from urbanstack.engine.plan import manifest, plan_shared


@pytest.fixture(scope="module")
def production(plan_stack) -> StackPlan:
    """stacks/Pulumi.shared.yaml as checked in: profile production, ACME, rook-ceph."""
    return plan_stack("shared")


@pytest.fixture(scope="module")
def dev() -> StackPlan:
    from catalogue.shared_config import SHARED_CONFIG, stack_config

    cfg = dict(stack_config(SHARED_CONFIG))
    cfg.update({
        "urban-stack:profile": "dev",
        "urban-stack:tls": {"issuer": "internal-ca"},
        "urban-stack:storage": {"mode": "external", "blockStorageClass": "standard",
                                "external": {"endpoint": "https://s3.example-cloud.de", "region": "de-nrw-1"}},
    })
    return plan_shared(config=cfg)


def chart(plan: StackPlan, key: str) -> dict:
    found = [r for r in plan.of_type("kubernetes:helm.sh/v4:Chart") if r.name == key]
    assert len(found) == 1, f"chart {key} registered {len(found)} times"
    return found[0].inputs


def one(plan: StackPlan, kind: str, name: str, namespace: str | None = None) -> dict:
    found = plan.find(kind, name, namespace)
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} objects"
    return manifest(found[0].inputs)


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def revealed(value):
    """A secret input as the mocks deliver it (Pulumi's secret wrapper) or plain."""
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def pdb_selectors(plan: StackPlan) -> list[tuple[str, dict]]:
    return [(manifest(r.inputs)["metadata"]["namespace"], manifest(r.inputs)["spec"]["selector"]["matchLabels"])
            for r in plan.find("PodDisruptionBudget")]


# --- operators ------------------------------------------------------------------------------------------

def test_every_operator_is_a_chart_pinned_in_the_version_catalogue(production):
    for key in ("cloudnative-pg", "plugin-barman-cloud", "cert-manager", "envoy-gateway", "kube-prometheus-stack",
                "opencost", "rook-ceph"):
        inputs = chart(production, key)
        assert inputs["version"] == CHARTS[key].version
        assert inputs["chart"] == CHARTS[key].chart


def test_no_chart_comes_from_bitnami_minio_or_ingress_nginx():
    for spec in CHARTS.values():
        for banned in ("bitnami", "minio", "ingress-nginx"):
            assert banned not in f"{spec.chart} {spec.repo}".lower()


def test_the_keycloak_operator_is_installed_from_its_release_bundle_pinned_by_commit_and_version(production):
    groups = production.of_type("kubernetes:yaml/v2:ConfigGroup")
    assert [g.name for g in groups] == ["keycloak-operator"]
    files = groups[0].inputs["files"]
    version = MANIFESTS["keycloak-operator"].version
    assert files and all(re.search(rf"/community-operators/[0-9a-f]{{40}}/operators/keycloak-operator/{version}/"
                                   r"manifests/[a-z]+\.k8s\.keycloak\.org-v1\.crd\.yml$", f) for f in files)
    # the install objects derived from the release's ClusterServiceVersion (vendor/keycloak-operator-<version>/)
    kinds = sorted(o["kind"] for o in groups[0].inputs["objs"])
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "ServiceAccount"]


def test_the_keycloak_operator_manifests_are_moved_to_the_identity_namespace_and_hardened():
    binding = place_keycloak_operator("ClusterRoleBinding", {
        "metadata": {"name": "keycloak-operator-clusterrole-binding"},
        "subjects": [{"kind": "ServiceAccount", "name": "keycloak-operator", "namespace": "keycloak"}]})
    assert binding["subjects"][0]["namespace"] == names.NS_IDENTITY
    assert "namespace" not in binding["metadata"]
    deployment = place_keycloak_operator("Deployment", {
        "metadata": {"name": "keycloak-operator"},
        "spec": {"template": {"spec": {"containers": [{"name": "keycloak-operator"}]}}}})
    assert deployment["metadata"]["namespace"] == names.NS_IDENTITY
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["priorityClassName"] == names.PRIORITY_PLATFORM
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_rook_is_only_installed_for_storage_mode_rook_ceph(production, dev):
    assert chart(production, "rook-ceph")
    assert "rook-ceph" not in [r.name for r in dev.of_type("kubernetes:helm.sh/v4:Chart")]
    assert dev.find("CephCluster") == [] and dev.find("CephObjectStore") == []


def test_chart_values_carry_the_shared_cost_labels_of_their_module(production):
    operators = chart(production, "cloudnative-pg")["values"]["podLabels"]
    assert operators[labels.TENANT] == labels.SHARED_TENANT
    assert operators[labels.MODULE] == "operators"
    assert operators[labels.COST_SHARE] == labels.SHARED
    assert operators[labels.COST_CENTER] == "KGT-URBAN-BETRIEB"
    monitoring = chart(production, "kube-prometheus-stack")["values"]["prometheus"]["prometheusSpec"]
    assert monitoring["podMetadata"]["labels"][labels.MODULE] == "monitoring"
    assert chart(production, "opencost")["values"]["podLabels"][labels.MODULE] == "monitoring"


def test_operators_run_non_root_with_a_read_only_root_filesystem(production):
    for key, path in (("cloudnative-pg", ("containerSecurityContext",)),
                      ("plugin-barman-cloud", ("containerSecurityContext",)),
                      ("cert-manager", ("containerSecurityContext",)),
                      ("cert-manager", ("webhook", "containerSecurityContext")),
                      ("opencost", ("opencost", "exporter", "securityContext"))):
        node = chart(production, key)["values"]
        for part in path:
            node = node[part]
        assert node["readOnlyRootFilesystem"] is True, key
        assert node["allowPrivilegeEscalation"] is False, key


# --- profiles -------------------------------------------------------------------------------------------

def test_production_runs_controllers_twice_with_anti_affinity_and_disruption_budgets(production):
    cnpg = chart(production, "cloudnative-pg")["values"]
    assert cnpg["replicaCount"] == 2
    assert "podAntiAffinity" in cnpg["affinity"]
    assert (names.NS_OPERATORS, {"app.kubernetes.io/name": "cloudnative-pg"}) in pdb_selectors(production)
    cm = chart(production, "cert-manager")["values"]
    for section in (cm, cm["webhook"], cm["cainjector"]):
        assert section["replicaCount"] == 2
        assert section["podDisruptionBudget"]["enabled"] is True
        assert "podAntiAffinity" in section["affinity"]
    eg = chart(production, "envoy-gateway")["values"]
    assert eg["deployment"]["replicas"] == 2
    assert eg["podDisruptionBudget"]["minAvailable"] == 1
    assert "podAntiAffinity" in eg["deployment"]["pod"]["affinity"]


def test_dev_runs_one_replica_of_everything_without_disruption_budgets(dev):
    assert chart(dev, "cloudnative-pg")["values"]["replicaCount"] == 1
    assert "affinity" not in chart(dev, "cloudnative-pg")["values"]
    assert chart(dev, "cert-manager")["values"]["podDisruptionBudget"]["enabled"] is False
    assert chart(dev, "envoy-gateway")["values"]["deployment"]["replicas"] == 1
    assert pdb_selectors(dev) == []
    kc = one(dev, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["instances"] == 1 and "affinity" not in kc["scheduling"]
    db = one(dev, "Cluster", names.KEYCLOAK_DB_CLUSTER, names.NS_IDENTITY)["spec"]
    assert db["instances"] == 1 and db["enablePDB"] is False
    envoy = one(dev, "EnvoyProxy", "urban-envoy", names.NS_GATEWAY)["spec"]["provider"]["kubernetes"]
    assert envoy["envoyDeployment"]["replicas"] == 1 and "envoyPDB" not in envoy
    prom = chart(dev, "kube-prometheus-stack")["values"]
    assert prom["prometheus"]["prometheusSpec"]["replicas"] == 1
    assert prom["prometheus"]["podDisruptionBudget"]["enabled"] is False


def test_production_keycloak_is_highly_available(production):
    kc = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["instances"] == 3
    assert "podAntiAffinity" in kc["scheduling"]["affinity"]
    assert (names.NS_IDENTITY, names.KEYCLOAK_POD_LABELS) in pdb_selectors(production)
    db = one(production, "Cluster", names.KEYCLOAK_DB_CLUSTER, names.NS_IDENTITY)["spec"]
    assert db["instances"] == 3
    assert db["enablePDB"] is True and db["affinity"]["enablePodAntiAffinity"] is True


def test_production_gateway_data_plane_prometheus_and_ceph_are_spread_and_budgeted(production):
    envoy = one(production, "EnvoyProxy", "urban-envoy", names.NS_GATEWAY)["spec"]["provider"]["kubernetes"]
    assert envoy["envoyDeployment"]["replicas"] == 3
    assert envoy["envoyPDB"] == {"maxUnavailable": 1}
    assert "podAntiAffinity" in envoy["envoyDeployment"]["pod"]["affinity"]
    prom = chart(production, "kube-prometheus-stack")["values"]
    assert prom["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert prom["prometheus"]["prometheusSpec"]["podAntiAffinity"] == "soft"
    assert prom["prometheus"]["podDisruptionBudget"]["enabled"] is True
    assert prom["alertmanager"]["podDisruptionBudget"]["enabled"] is True
    ceph = one(production, "CephCluster", "urban-ceph", names.NS_STORAGE)["spec"]
    assert ceph["mon"] == {"count": 3, "allowMultiplePerNode": False}
    assert ceph["disruptionManagement"]["managePodBudgets"] is True
    rgw = one(production, "CephObjectStore", names.OBJECT_STORE, names.NS_STORAGE)["spec"]["gateway"]
    assert rgw["instances"] == 2 and "podAntiAffinity" in rgw["placement"]
    assert rgw["port"] == names.RGW_PORT


def test_the_envoy_data_plane_keeps_upstreams_writable_root_and_is_admitted_by_restricted(production):
    # Envoy Gateway v1.9.0 (internal/infrastructure/kubernetes/proxy/resource.go) gives the EnvoyProxy's container
    # securityContext to both containers, envoy and shutdown-manager; the shutdown manager writes
    # /tmp/shutdown-ready and cannot get a volume from the EnvoyProxy.
    envoy = one(production, "EnvoyProxy", "urban-envoy", names.NS_GATEWAY)["spec"]["provider"]["kubernetes"]
    deployment = envoy["envoyDeployment"]
    container_sc = deployment["container"]["securityContext"]
    assert container_sc.get("readOnlyRootFilesystem") is not True
    assert container_sc["runAsUser"] == 65532 and container_sc["runAsGroup"] == 65532
    pod = {"securityContext": deployment["pod"]["securityContext"],
           "containers": [{"name": name, "securityContext": container_sc} for name in ("envoy", "shutdown-manager")]}
    assert pod_security({}, pod, "restricted") == []


# --- identity -------------------------------------------------------------------------------------------

def test_keycloak_serves_id_base_domain_with_its_own_database_and_generated_admin(production):
    kc = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["hostname"]["hostname"] == "https://id.urbanstack.kreis-guetersloh.example"
    assert kc["db"]["host"] == f"{names.KEYCLOAK_DB_CLUSTER}-rw"
    assert kc["bootstrapAdmin"]["user"]["secret"] == names.KEYCLOAK_ADMIN_SECRET
    assert kc["ingress"]["enabled"] is False
    admin = production.find("Secret", names.KEYCLOAK_ADMIN_SECRET, names.NS_IDENTITY)[0].inputs
    assert set(revealed(admin["stringData"])) == {"username", "password"}
    [password] = [r for r in production.of_type("random:index/randomPassword:RandomPassword")
                  if r.name == "keycloak-admin-password"]
    assert password.inputs["length"] == 32
    assert {"keycloakAdminUsername", "keycloakAdminPassword"} <= production.secret_outputs
    route = one(production, "HTTPRoute", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert route["parentRefs"][0]["sectionName"] == names.HTTPS_LISTENER_PLATFORM


def routes_on(plan: StackPlan, section: str) -> list[dict]:
    return [manifest(r.inputs) for r in plan.find("HTTPRoute")
            if any(ref.get("sectionName") == section for ref in manifest(r.inputs)["spec"]["parentRefs"])]


def policy_for(plan: StackPlan, route: dict) -> dict:
    found = [manifest(r.inputs)["spec"] for r in plan.find("SecurityPolicy", namespace=route["metadata"]["namespace"])
             if {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route["metadata"]["name"]}
             in manifest(r.inputs)["spec"].get("targetRefs", [])]
    assert len(found) == 1, f"route {route['metadata']['name']}: {len(found)} SecurityPolicies"
    return found[0]


def test_the_public_keycloak_host_publishes_only_the_paths_keycloaks_proxy_guide_lists(production):
    public = set()
    for route in routes_on(production, names.HTTPS_LISTENER_PLATFORM):
        paths = {m["path"]["value"] for rule in route["spec"]["rules"] for m in rule["matches"]}
        if paths == {"/realms/master"}:
            # The master realm: a longer prefix than /realms, every request denied.
            assert policy_for(production, route)["authorization"] == {"defaultAction": "Deny"}
            continue
        assert all(m["path"]["type"] == "PathPrefix" for rule in route["spec"]["rules"] for m in rule["matches"])
        public |= paths
    assert public == {"/realms", "/resources", "/.well-known"}


def test_the_admin_console_and_master_realm_are_on_their_own_host_closed_by_default(production):
    gw = one(production, "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]
    (listener,) = [lst for lst in gw["listeners"] if lst["name"] == names.HTTPS_LISTENER_ADMIN]
    assert listener["hostname"] == "id-admin.urbanstack.kreis-guetersloh.example"
    assert listener["hostname"] in one(production, "Certificate", names.PLATFORM_TLS_SECRET, names.NS_GATEWAY)["spec"]["dnsNames"]
    (route,) = routes_on(production, names.HTTPS_LISTENER_ADMIN)
    assert policy_for(production, route)["authorization"] == {"defaultAction": "Deny"}
    kc = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["hostname"]["admin"] == "https://id-admin.urbanstack.kreis-guetersloh.example"
    master = json.loads(revealed(production.find("Secret", "realm-master", names.NS_IDENTITY)[0].inputs["stringData"])
                        [rj.CONFIG_KEY])
    assert master["attributes"]["frontendUrl"] == "https://id-admin.urbanstack.kreis-guetersloh.example"


def test_configured_source_ranges_open_the_admin_console_to_those_addresses_only(shared_config):
    shared_config["urban-stack:keycloakAdmin"] = {"allowedSourceRanges": ["203.0.113.0/24", "2001:db8::/48"]}
    plan = plan_shared(config=shared_config)
    (route,) = routes_on(plan, names.HTTPS_LISTENER_ADMIN)
    assert policy_for(plan, route)["authorization"] == {"defaultAction": "Deny", "rules": [
        {"name": "allowed-source-ranges", "action": "Allow", "principal": {"clientCIDRs": ["203.0.113.0/24", "2001:db8::/48"]}}]}


def test_the_admin_console_cannot_be_opened_to_everyone():
    from catalogue.shared_config import ConfigError, parse

    base = {"baseDomain": "urbanstack.example", "operatorName": "Betrieb", "operatorCostCenter": "KST-1",
            "adminEmail": "betrieb@urbanstack.example"}
    with pytest.raises(ConfigError, match=r"keycloakAdmin.*everyone"):
        parse({**base, "keycloakAdmin": {"allowedSourceRanges": ["0.0.0.0/0"]}})
    with pytest.raises(ConfigError, match=r"keycloakAdmin\.allowedSourceRanges"):
        parse({**base, "keycloakAdmin": {"allowedSourceRanges": ["not-a-network"]}})


def test_the_master_admin_needs_a_one_time_code_and_the_password_alone_gets_no_token():
    from components.shared.identity import master_realm

    realm = master_realm()
    flows = {f["alias"]: f for f in realm["authenticationFlows"]}
    browser = flows[realm["browserFlow"]]
    assert browser["topLevel"] is True
    forms = flows[next(e["flowAlias"] for e in browser["authenticationExecutions"] if e["authenticatorFlow"])]
    steps = {e["authenticator"]: e["requirement"] for e in forms["authenticationExecutions"]}
    assert steps == {"auth-username-password-form": "REQUIRED", "auth-otp-form": "REQUIRED"}
    (admin_cli,) = [c for c in realm["clients"] if c["clientId"] == "admin-cli"]
    assert admin_cli["directAccessGrantsEnabled"] is False
def operator_built_keycloak_pod(kc: dict) -> dict:
    """The pod spec the Keycloak operator 26.x builds from a Keycloak CR (KeycloakDeploymentDependentResource.
    createBaseDeployment): ``spec.unsupported.podTemplate`` is the base; the first container is renamed
    ``keycloak`` and gets image, args, probes, ports and env, its securityContext and the pod's stay as given."""
    pod = copy.deepcopy(((kc.get("unsupported") or {}).get("podTemplate") or {}).get("spec") or {})
    containers = pod.setdefault("containers", [])
    if not containers:
        containers.append({})
    containers[0].update({"name": "keycloak", "image": kc["image"]})
    return pod


@pytest.mark.parametrize("profile", ["production", "dev"])
def test_keycloak_pods_are_admitted_by_pod_security_restricted(production, dev, profile):
    kc = one(production if profile == "production" else dev, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)
    assert pod_security({}, operator_built_keycloak_pod(kc["spec"]), "restricted") == []


def test_keycloak_runs_the_stock_image_as_its_user_and_builds_it_at_start(production):
    kc = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["image"].startswith("quay.io/keycloak/keycloak:")
    # A custom `image` is started with --optimized unless startOptimized is false; the stock image then
    # ignores the database and health/metrics options.
    assert kc["startOptimized"] is False
    template = kc["unsupported"]["podTemplate"]
    assert template["spec"]["securityContext"]["runAsUser"] == 1000, "USER 1000 of the Keycloak image"
    # The build at start writes below /opt/keycloak: the root filesystem must stay writable.
    assert template["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False
    assert template["metadata"]["labels"][labels.MODULE] == "identity"


def test_the_master_realm_is_hardened_by_a_realm_job_named_after_its_configuration(production):
    secret = production.find("Secret", "realm-master", names.NS_IDENTITY)[0].inputs
    document = json.loads(revealed(secret["stringData"])[rj.CONFIG_KEY])
    assert document["realm"] == "master"
    jobs = production.find("Job", namespace=names.NS_IDENTITY)
    assert len(jobs) == 1
    job = manifest(jobs[0].inputs)
    assert job["metadata"]["name"].startswith("realm-master-")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("docker.io/adorsys/keycloak-config-cli:")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["KEYCLOAK_URL"]["value"] == rj.KEYCLOAK_INTERNAL_URL


def test_the_master_realm_job_logs_in_as_the_bootstrap_service_account_never_with_the_admin_password(production):
    kc = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]
    assert kc["bootstrapAdmin"]["service"]["secret"] == names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET
    service = revealed(production.find("Secret", names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET, names.NS_IDENTITY)[0]
                       .inputs["stringData"])
    assert set(service) == {"client-id", "client-secret"}
    (job,) = production.find("Job", namespace=names.NS_IDENTITY)
    env = {e["name"]: e for e in manifest(job.inputs)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KEYCLOAK_GRANTTYPE"]["value"] == "client_credentials"
    assert env["KEYCLOAK_CLIENTSECRET"]["valueFrom"]["secretKeyRef"]["name"] == names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET
    assert "KEYCLOAK_PASSWORD" not in env and "KEYCLOAK_USER" not in env


def test_the_master_realm_job_knows_no_municipality_and_keeps_its_state_under_its_own_key(production):
    """Realms and realm-job clients are made by the municipalities' own stacks (docs/decisions/0013): the master
    realm document lists no municipality, and the job's keycloak-config-cli state (which clients it may delete) is
    kept under key ``platform``, apart from every bootstrap job's ``bootstrap-<slug>``."""
    from catalogue.tenants import load_all
    from components.shared.identity import MASTER_CACHE_KEY

    files = revealed(production.find("Secret", "realm-master", names.NS_IDENTITY)[0].inputs["stringData"])
    assert set(files) == {rj.CONFIG_KEY}
    master = json.loads(files[rj.CONFIG_KEY])
    assert [c["clientId"] for c in master["clients"]] == ["admin-cli"]
    assert "users" not in master
    text = json.dumps(files)
    assert "realm-job-" not in text and not [slug for slug in load_all() if f"{slug}-realm" in text]
    assert not production.find("Secret", names.realm_job_client("verl"))
    (job,) = production.find("Job", namespace=names.NS_IDENTITY)
    container = manifest(job.inputs)["spec"]["template"]["spec"]["containers"][0]
    # Clients stay fully managed (no import.managed option): a client this job once listed and no longer does is
    # deleted; remote state stays on (keycloak-config-cli's default).
    assert container["args"] == [f"--import.cache.key={MASTER_CACHE_KEY}"] and MASTER_CACHE_KEY == "platform"
    assert not [e for e in container["env"] if e["name"].startswith(("IMPORT_MANAGED", "IMPORT_REMOTESTATE"))]


def test_no_pod_in_urban_identity_but_the_operator_and_keycloaks_database_reaches_the_kube_api(production):
    from components.shared.platform import KUBE_API_PORTS

    for policy in policies_in(production, names.NS_IDENTITY):
        for rule in policy["spec"].get("egress") or []:
            if any(p.get("port") in KUBE_API_PORTS for p in rule.get("ports", [])) and any(
                    "ipBlock" in peer for peer in rule.get("to", [])):
                selected = policy["spec"]["podSelector"].get("matchLabels", {})
                assert selected in (names.KEYCLOAK_OPERATOR_POD_LABELS, {"cnpg.io/cluster": names.KEYCLOAK_DB_CLUSTER},
                                    names.KEYCLOAK_POD_LABELS), f"{policy['metadata']['name']} selects {selected or 'every pod'}"


def test_the_master_realm_document_sets_password_brute_force_and_token_policies():
    from components.shared.identity import master_realm

    realm = master_realm()
    assert realm["realm"] == "master"
    assert "length(12)" in realm["passwordPolicy"]
    assert realm["bruteForceProtected"] is True and realm["failureFactor"] <= 5
    assert realm["accessTokenLifespan"] <= 300
    assert realm["ssoSessionIdleTimeout"] <= 1800
    assert realm["registrationAllowed"] is False


def test_a_changed_realm_document_gets_a_new_job_name_and_an_unchanged_one_keeps_it():
    doc = json.dumps({"realm": "verl", "enabled": True})
    assert rj.job_name("realm-verl", doc) == rj.job_name("realm-verl", doc)
    assert rj.job_name("realm-verl", doc) != rj.job_name("realm-verl", doc.replace("true", "false"))
    assert len(rj.job_name("realm-rheda-wiedenbrueck", doc)) <= 63


# --- gateway and certificates ---------------------------------------------------------------------------

def test_the_gateway_has_the_platforms_listeners_only_and_admits_municipalities_listenersets(production):
    gw = one(production, "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]
    assert gw["gatewayClassName"] == names.GATEWAY_CLASS
    by_name = {listener["name"]: listener for listener in gw["listeners"]}
    # The one wildcard listener of every municipality on a platform subdomain, when the shared config offers them.
    assert set(by_name) - {names.PLATFORM_SUBDOMAINS_LISTENER} == {
        "http", names.HTTPS_LISTENER_PLATFORM, names.HTTPS_LISTENER_ADMIN}
    assert by_name["http"]["port"] == 80
    assert by_name[names.HTTPS_LISTENER_PLATFORM]["hostname"] == "id.urbanstack.kreis-guetersloh.example"
    # Municipalities bring their own listeners (components/tenant/gateway.py; tests/test_listenerset.py).
    assert gw["allowedListeners"] == {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": labels.TENANT, "operator": "Exists"},
        {"key": labels.TENANT, "operator": "NotIn", "values": [labels.SHARED_TENANT]}]}}}
    # The outputs stay the same size however many municipalities there are (every tenant stack reads them).
    from catalogue.tenants import load_all
    from urbanstack.engine.plan import plan_shared

    only_verl = plan_shared(tenants={"verl": load_all()["verl"]}).outputs
    assert only_verl == plan_shared().outputs


def test_acme_issues_through_the_shared_gateway(production):
    issuer = one(production, "ClusterIssuer", names.CLUSTER_ISSUER)["spec"]["acme"]
    assert issuer["email"] == "betrieb@urbanstack.kreis-guetersloh.example"
    http01 = [solver for solver in issuer["solvers"] if "http01" in solver]
    for solver in http01:
        ref = solver["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
        assert (ref["name"], ref["namespace"]) == (names.GATEWAY_NAME, names.NS_GATEWAY)
    # The only other solver is DNS-01 for the wildcard of platform subdomains (tests/test_platform_subdomains.py).
    assert [s["selector"] for s in issuer["solvers"] if s not in http01] == [
        {"dnsNames": ["*.urbanstack.kreis-guetersloh.example"]}]
    assert chart(production, "cert-manager")["values"]["config"]["enableGatewayAPI"] is True


def test_the_shared_issuer_answers_challenges_only_for_the_platforms_hosts_on_its_own_listener(production):
    issuer = one(production, "ClusterIssuer", names.CLUSTER_ISSUER)["spec"]["acme"]
    listeners = {lst["name"]: lst for lst in one(production, "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]["listeners"]}
    # No default solver: a name outside every selector gets no solver at all; municipalities with a domain of their
    # own have their own Issuer, those on a platform subdomain share the one DNS-01 wildcard.
    assert all(solver.get("selector") for solver in issuer["solvers"])
    (platform,) = [s for s in issuer["solvers"] if "http01" in s]
    assert platform["selector"] == {"dnsNames": one(production, "Certificate", names.PLATFORM_TLS_SECRET,
                                                    names.NS_GATEWAY)["spec"]["dnsNames"]}
    for dns01 in [s for s in issuer["solvers"] if "dns01" in s]:  # only the one wildcard of platform subdomains
        (wildcard,) = dns01["selector"]["dnsNames"]
        assert wildcard.startswith("*.") and set(dns01["selector"]) == {"dnsNames"}
    assert platform["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["sectionName"] == names.HTTP_LISTENER
    # No listener admits routes from every namespace (a solver route there would answer for any host).
    assert all(lst["allowedRoutes"]["namespaces"]["from"] == "Selector" for lst in listeners.values())
    assert listeners[names.HTTP_LISTENER]["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": names.NS_GATEWAY}


def test_the_platforms_http_listener_is_redirected_to_https(production):
    """The platform's HTTP listener; each municipality redirects its hosts on its own ListenerSet."""
    route = one(production, "HTTPRoute", "https-redirect", names.NS_GATEWAY)["spec"]
    assert [ref["sectionName"] for ref in route["parentRefs"]] == [names.HTTP_LISTENER]


def test_cert_manager_does_not_aggregate_its_rights_into_admin_and_edit(production):
    import yaml

    from catalogue.versions import CHARTS

    # The key exists in the pinned chart (defaults to true there) and we turn it off.
    spec = CHARTS["cert-manager"]
    upstream = yaml.safe_load((ROOT / "vendor" / "charts" / f"cert-manager-{spec.version}" / "values.yaml").read_text())
    assert upstream["global"]["rbac"]["aggregateClusterRoles"] is True
    assert chart(production, "cert-manager")["values"]["global"]["rbac"]["aggregateClusterRoles"] is False


def test_an_internal_ca_is_a_self_signed_root_and_a_ca_issuer(dev):
    root = one(dev, "Certificate", "urban-root-ca", names.NS_CERT_MANAGER)["spec"]
    assert root["isCA"] is True and root["issuerRef"]["name"] == "urban-selfsigned"
    assert one(dev, "ClusterIssuer", "urban-selfsigned")["spec"] == {"selfSigned": {}}
    assert one(dev, "ClusterIssuer", names.CLUSTER_ISSUER)["spec"] == {"ca": {"secretName": "urban-root-ca"}}


# --- storage --------------------------------------------------------------------------------------------

def test_rook_ceph_mode_offers_an_object_store_and_a_bucket_class(production):
    sc = one(production, "StorageClass", names.OBJECT_BUCKET_STORAGE_CLASS)
    assert sc["provisioner"] == f"{names.NS_STORAGE}.ceph.rook.io/bucket"
    assert sc["parameters"]["objectStoreName"] == names.OBJECT_STORE
    assert production.outputs["s3Mode"] == "rook-ceph"
    assert production.outputs["s3Endpoint"] == f"http://rook-ceph-rgw-urban-objects.urban-storage.svc:{names.RGW_PORT}"
    for r in production.kube_objects():
        if r.inputs.get("kind") in ("CephCluster", "CephObjectStore"):
            assert r.protect and r.retain_on_delete


def test_rook_ceph_mode_creates_the_retained_block_storage_class_every_volume_uses(production, dev):
    # Rook v1.19.10 deploy/examples/csi/rbd/storageclass.yaml, with the operator's and the cluster's namespace.
    block_class = production.outputs["storageClass"]
    sc = one(production, "StorageClass", block_class)
    assert sc["provisioner"] == f"{names.NS_STORAGE}.rbd.csi.ceph.com"
    assert sc["reclaimPolicy"] == "Retain"
    assert sc["parameters"]["clusterID"] == names.NS_STORAGE
    assert sc["parameters"]["csi.storage.k8s.io/node-stage-secret-namespace"] == names.NS_STORAGE
    pool = production.find("CephBlockPool", sc["parameters"]["pool"], names.NS_STORAGE)
    assert len(pool) == 1 and pool[0].protect is True and pool[0].retain_on_delete is True
    assert manifest(pool[0].inputs)["spec"]["replicated"]["size"] == 3
    keycloak_db = one(production, "Cluster", names.KEYCLOAK_DB_CLUSTER, names.NS_IDENTITY)["spec"]
    assert keycloak_db["storage"]["storageClass"] == block_class
    assert dev.find("CephBlockPool") == [] and dev.find("StorageClass", dev.outputs["storageClass"]) == []


def test_external_mode_hands_the_provider_to_the_tenants(dev):
    assert dev.outputs["s3Mode"] == "external"
    assert dev.outputs["s3Endpoint"] == "https://s3.example-cloud.de"
    assert dev.outputs["s3Region"] == "de-nrw-1"
    assert dev.outputs["s3CredentialsSecret"] == "external-s3-credentials"
    assert dev.outputs["bucketStorageClass"] is None


# --- hygiene --------------------------------------------------------------------------------------------

def test_every_platform_namespace_denies_by_default_and_allows_dns(production):
    policies = [manifest(r.inputs) for r in production.find("NetworkPolicy")]
    for ns in names.PLATFORM_NAMESPACES:
        mine = {p["metadata"]["name"]: p["spec"] for p in policies if p["metadata"]["namespace"] == ns}
        deny = mine[f"{ns}-default-deny"]
        assert deny == {"podSelector": {}, "ingress": [], "egress": [], "policyTypes": ["Ingress", "Egress"]}
        assert mine[f"{ns}-dns"]["egress"][0]["ports"][0]["port"] == 53


def test_keycloak_is_reachable_from_the_gateway_and_its_database_from_the_operator(production):
    keycloak = one(production, "NetworkPolicy", f"{names.NS_IDENTITY}-keycloak", names.NS_IDENTITY)["spec"]
    rule = keycloak["ingress"][0]
    assert rule["from"][0]["podSelector"]["matchLabels"] == names.GATEWAY_POD_LABELS
    assert rule["ports"] == [{"protocol": "TCP", "port": names.KEYCLOAK_HTTP_PORT}]
    db = one(production, "NetworkPolicy", f"{names.NS_IDENTITY}-keycloak-db", names.NS_IDENTITY)["spec"]
    assert db["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": names.NS_OPERATORS}


def policies_in(plan: StackPlan, namespace: str) -> list[dict]:
    return [manifest(r.inputs) for r in plan.find("NetworkPolicy") if manifest(r.inputs)["metadata"]["namespace"] == namespace]


def selects_monitoring(peer: dict) -> bool:
    sel = peer.get("namespaceSelector")
    return sel == {} or (sel or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == names.NS_MONITORING


def test_platform_namespaces_admit_only_prometheus_and_only_on_their_metrics_ports(production):
    from components.shared.monitoring import PROMETHEUS_POD_LABELS, SCRAPE_PORTS

    for ns in names.PLATFORM_NAMESPACES:
        if ns == names.NS_MONITORING:
            continue
        for policy in policies_in(production, ns):
            for rule in policy["spec"].get("ingress") or []:
                from_monitoring = [p for p in rule.get("from", []) if selects_monitoring(p)]
                if not from_monitoring:
                    continue
                name = policy["metadata"]["name"]
                if from_monitoring[0].get("namespaceSelector") == {}:
                    continue  # every namespace: judged by the other tests (e.g. CloudNativePG's plugin port)
                assert all(p.get("podSelector", {}).get("matchLabels") == PROMETHEUS_POD_LABELS
                           for p in from_monitoring), f"{name} admits every pod of urban-monitoring"
                ports = {p["port"] for p in rule.get("ports", [])}
                assert ports and ports <= set(SCRAPE_PORTS[ns]), f"{name} admits urban-monitoring on {ports or 'every port'}"


def test_only_prometheus_leaves_the_monitoring_namespace_and_only_to_metrics_ports(production):
    from components.shared.monitoring import NODE_SCRAPE_PORTS, PROMETHEUS_POD_LABELS, SCRAPE_PORTS

    allowed = {port for ports in SCRAPE_PORTS.values() for port in ports} | set(NODE_SCRAPE_PORTS)
    for policy in policies_in(production, names.NS_MONITORING):
        name = policy["metadata"]["name"]
        for rule in policy["spec"].get("egress") or []:
            to_others = [p for p in rule.get("to", []) if "namespaceSelector" in p or "ipBlock" in p]
            ports = {p["port"] for p in rule.get("ports", [])}
            if not to_others or ports <= {53} | set(KUBE_API_PORTS):
                continue
            assert policy["spec"]["podSelector"] == {"matchLabels": PROMETHEUS_POD_LABELS}, name
            assert ports and ports <= allowed, f"{name}: egress on {ports or 'every port'}"


def test_grafana_gets_a_generated_admin_password_from_a_secret_of_our_own(production):
    from components.shared.monitoring import GRAFANA_ADMIN_SECRET

    grafana = chart(production, "kube-prometheus-stack")["values"]["grafana"]
    assert "adminPassword" not in grafana
    assert grafana["admin"] == {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                                "passwordKey": "admin-password"}
    data = revealed(production.find("Secret", GRAFANA_ADMIN_SECRET, names.NS_MONITORING)[0].inputs["stringData"])
    assert set(data) == {"admin-user", "admin-password"}
    generated = [r for r in production.of_type("random:index/randomPassword:RandomPassword")
                 if r.name == "grafana-admin-password"]
    assert len(generated) == 1 and generated[0].inputs["length"] >= 32
def test_the_api_server_reaches_envoy_gateways_topology_injector_webhook(production):
    # gateway-helm v1.9.0: MutatingWebhookConfiguration envoy-gateway-topology-injector -> service port 9443,
    # enabled by default (values.yaml topologyInjector.enabled).
    values = chart(production, "envoy-gateway")["values"]
    assert values.get("topologyInjector", {}).get("enabled", True) is True
    webhooks = one(production, "NetworkPolicy", f"{names.NS_GATEWAY}-webhooks", names.NS_GATEWAY)["spec"]
    assert webhooks["podSelector"] == {}
    assert {"protocol": "TCP", "port": 9443} in webhooks["ingress"][0]["ports"]


def test_namespaces_carry_pod_security_labels_and_priority_classes_exist(production):
    for ns in names.PLATFORM_NAMESPACES:
        md = one(production, "Namespace", ns)["metadata"]
        assert md["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
        assert md["labels"]["pod-security.kubernetes.io/enforce"] in ("restricted", "privileged")
    assert one(production, "Namespace", names.NS_IDENTITY)["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
    values = {name: one(production, "PriorityClass", name)["value"]
              for name in (names.PRIORITY_PLATFORM, names.PRIORITY_TENANT)}
    assert values[names.PRIORITY_PLATFORM] > values[names.PRIORITY_TENANT]


def test_every_shared_object_is_labelled_as_shared_cost_of_a_platform_module(production):
    for r in production.kube_objects():
        md = r.inputs["metadata"]
        problems = labels.check_labels(md.get("labels"), {labels.SHARED_TENANT}, set(labels.PLATFORM_MODULES))
        assert problems == [], (r.type, md.get("name"), problems)
        assert md["labels"][labels.COST_SHARE] == labels.SHARED


# --- outputs and price list -----------------------------------------------------------------------------

def test_outputs_tell_tenants_everything_they_need(production):
    out = production.outputs
    for key in ("gatewayName", "gatewayNamespace", "clusterIssuer", "keycloakUrl", "keycloakInternalUrl",
                "keycloakNamespace", "keycloakAdminSecret", "s3Endpoint", "s3Mode", "storageClass",
                "objectStore", "labelKeys", "bucketStorageClass"):
        assert key in out, key
    assert out["keycloakUrl"] == "https://id.urbanstack.kreis-guetersloh.example"
    assert out["keycloakAdminSecret"] == names.KEYCLOAK_ADMIN_SECRET
    assert out["labelKeys"] == list(labels.COST_LABEL_KEYS)


def test_opencost_prices_usage_with_the_platform_price_list(production):
    oc = chart(production, "opencost")["values"]["opencost"]
    model = oc["customPricing"]["costModel"]
    assert oc["customPricing"]["enabled"] is True
    # the one price source: finance/prices.yaml with the unit prices of urban-stack:pricesProvider
    provider = stack_config(SHARED_CONFIG).get("urban-stack:pricesProvider")
    prices = with_provider(load_prices(), load_provider(provider) if provider else None).unitPrices
    assert model["currencyCode"] == "EUR"
    assert (model["CPU"], model["RAM"], model["storage"]) == (
        float(prices.vcpuMonth) / HOURS_PER_MONTH, float(prices.ramGibMonth) / HOURS_PER_MONTH,
        float(prices.blockStorageGibMonth) / HOURS_PER_MONTH)
    assert oc["prometheus"]["internal"]["namespaceName"] == names.NS_MONITORING


def test_keycloaks_database_is_backed_up_off_site_in_production_and_to_a_platform_bucket_in_dev(production):
    from catalogue.shared_config import SHARED_CONFIG, stack_config

    base = {k: v for k, v in stack_config(SHARED_CONFIG).items() if k != "urban-stack:backup"}
    dev_rook = plan_shared(config={**base, "urban-stack:profile": "dev"})
    dev_external = plan_shared(config={**base, "urban-stack:profile": "dev", "urban-stack:storage": {
        "mode": "external", "blockStorageClass": "standard", "external": {"endpoint": "https://s3.example-cloud.de"}}})
    for plan, destination, endpoint in (
            (production, "s3://urbanstack-offsite-backups/urban-identity/cnpg", "https://s3.offsite-backup.example"),
            (dev_rook, "s3://urban-keycloak-db-backups/keycloak-db", dev_rook.outputs["s3Endpoint"]),
            (dev_external, "s3://urban-platform-backups/keycloak-db", dev_external.outputs["s3Endpoint"])):
        store = one(plan, "ObjectStore", "keycloak-db-backup", names.NS_IDENTITY)["spec"]
        assert store["configuration"]["destinationPath"] == destination
        assert store["configuration"]["endpointURL"] == endpoint
        db = one(plan, "Cluster", names.KEYCLOAK_DB_CLUSTER, names.NS_IDENTITY)["spec"]
        assert db["plugins"] == [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                                  "parameters": {"barmanObjectName": "keycloak-db-backup"}}]
        daily = one(plan, "ScheduledBackup", "keycloak-db-daily", names.NS_IDENTITY)["spec"]
        assert daily["method"] == "plugin" and daily["cluster"] == {"name": names.KEYCLOAK_DB_CLUSTER}
    claim = one(dev_rook, "ObjectBucketClaim", "urban-keycloak-db-backups", names.NS_IDENTITY)["spec"]
    assert claim["storageClassName"] == names.OBJECT_BUCKET_STORAGE_CLASS
    assert production.find("ObjectBucketClaim") == dev_external.find("ObjectBucketClaim") == []


def test_everything_envoy_gateway_makes_for_the_shared_gateway_carries_only_the_four_cost_labels(production):
    # Envoy Gateway v1.9.0 copies Gateway.spec.infrastructure.labels onto the Envoy Deployment, its pods, Service,
    # ServiceAccount and ConfigMap (internal/gatewayapi/translator.go infrastructureLabels; internal/infrastructure/
    # kubernetes/proxy/resource_provider.go envoyLabels), OVER its own app labels: our managed-by must stay out.
    gateway = one(production, "Gateway", names.GATEWAY_NAME, names.NS_GATEWAY)["spec"]
    assert gateway["infrastructure"]["labels"] == {
        labels.TENANT: "shared", labels.MODULE: "gateway",
        labels.COST_CENTER: gateway["infrastructure"]["labels"][labels.COST_CENTER], labels.COST_SHARE: "shared"}
    envoy = one(production, "EnvoyProxy", "urban-envoy", names.NS_GATEWAY)["spec"]["provider"]["kubernetes"]
    pod_labels = envoy["envoyDeployment"]["pod"]["labels"]
    assert set(pod_labels) == set(labels.COST_LABEL_KEYS)


def test_keycloaks_service_gets_the_cost_labels_but_keeps_the_operators_own_labels(production):
    # Keycloak operator 26.4 KeycloakServiceDependentResource.desired: instance labels, then spec.http.labels over
    # them; its informer selects app=keycloak,app.kubernetes.io/managed-by=keycloak-operator.
    http = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]["http"]
    assert set(http["labels"]) == set(labels.COST_LABEL_KEYS)
    assert http["labels"][labels.MODULE] == "identity" and http["labels"][labels.TENANT] == "shared"


def test_keycloak_pods_get_no_service_account_token(production):
    # Keycloak never calls the Kubernetes API (members find each other by DNS through <name>-discovery).
    template = one(production, "Keycloak", names.KEYCLOAK_NAME, names.NS_IDENTITY)["spec"]["unsupported"]["podTemplate"]
    assert template["spec"]["automountServiceAccountToken"] is False


def test_the_barman_sidecar_of_every_database_pod_is_bounded(production):
    # plugin-barman-cloud v0.13.0 lifecycle.go gives the sidecar the ObjectStore's instanceSidecarConfiguration.
    store = one(production, "ObjectStore", "keycloak-db-backup", names.NS_IDENTITY)["spec"]
    res = store["instanceSidecarConfiguration"]["resources"]
    assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])


def test_the_envoy_shutdown_manager_gets_limits_through_the_deployment_patch(production):
    # Envoy Gateway v1.9.0 gives shutdown-manager requests only and no field for its resources.
    envoy = one(production, "EnvoyProxy", "urban-envoy", names.NS_GATEWAY)["spec"]["provider"]["kubernetes"]
    patch = envoy["envoyDeployment"]["patch"]
    assert patch["type"] == "StrategicMerge"
    [container] = patch["value"]["spec"]["template"]["spec"]["containers"]
    assert container["name"] == "shutdown-manager"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert {"cpu", "memory"} <= set(envoy["envoyDeployment"]["container"]["resources"]["limits"])


def test_acme_solver_pods_run_as_a_high_uid(production):
    issuer = one(production, "ClusterIssuer", names.CLUSTER_ISSUER)["spec"]
    for solver in (s for s in issuer["acme"]["solvers"] if "http01" in s):  # DNS-01 runs no solver pod
        sc = solver["http01"]["gatewayHTTPRoute"]["podTemplate"]["spec"]["securityContext"]
        assert sc["runAsUser"] >= 10000 and sc["runAsNonRoot"] is True
