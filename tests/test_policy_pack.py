"""The policy pack's mandatory policies, each shown with a compliant and a violating recorded resource.

Resources come from the offline recorder (``urbanstack.engine.offline`` via the sample module built with
``components/k8s.py`` and the real label transform, and the real stacks through ``plan_stack``); the
policy functions are called directly. The ``PolicyPack`` itself is never constructed here: it starts a
gRPC server for the Pulumi CLI and blocks.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from catalogue import labels, names
from catalogue.paths import ROOT
from catalogue.tenants import load_all
from policy import urbanstack_policies as pack
from tests.sample_plan import sample_stack

TENANTS = frozenset({"verl", "guetersloh"})
POLICY_DIR = ROOT / "policy"


@pytest.fixture(scope="module")
def sample():
    return sample_stack("verl", "VERL-1100")


def resource(plan, kind, name):
    [r] = plan.find(kind, name)
    return r.type, copy.deepcopy(r.inputs), r.urn


def container(props):
    return props["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("stack", ["shared", "guetersloh", "verl", "rietberg", "rheda-wiedenbrueck"])
def test_every_recorded_resource_of_the_real_stacks_complies(plan_stack, stack):
    assert stack in {"shared", *load_all()}
    problems = [(r.type, r.name, v) for r in plan_stack(stack).resources for v in pack.violations(r.type, r.inputs, r.urn)]
    assert problems == []


def test_the_sample_complies_with_every_policy(sample):
    for r in sample.resources:
        assert pack.violations(r.type, r.inputs, r.urn) == [], r.name


# -- cost-labels ------------------------------------------------------------------------------------------

def test_cost_labels_missing_on_a_pod_template_is_a_violation(sample):
    type_, props, urn = resource(sample, "Deployment", "sample-web")
    assert pack.cost_labels_policy(type_, props, urn, TENANTS) == []
    del props["spec"]["template"]["metadata"]["labels"][labels.COST_SHARE]
    [msg] = pack.cost_labels_policy(type_, props, urn, TENANTS)
    assert msg == "Deployment verl/sample-web spec.template.metadata: label urban-stack/cost-share missing"


def test_cost_labels_with_an_unknown_tenant_or_another_stacks_tenant_are_violations(sample):
    type_, props, urn = resource(sample, "ConfigMap", "sample-settings")
    props["metadata"]["labels"][labels.TENANT] = "bielefeld"
    assert any("neither a known municipality" in m for m in pack.cost_labels_policy(type_, props, urn, TENANTS))
    props["metadata"]["labels"][labels.TENANT] = "guetersloh"
    assert any("in stack 'verl' (expected 'verl')" in m for m in pack.cost_labels_policy(type_, props, urn, TENANTS))


# -- municipality-namespace ------------------------------------------------------------------------------------

def test_a_municipality_object_in_another_namespace_is_a_violation(sample):
    type_, props, urn = resource(sample, "Service", "sample-web")
    assert pack.municipality_namespace_policy(type_, props, urn, TENANTS) == []
    props["metadata"]["namespace"] = "guetersloh"
    [msg] = pack.municipality_namespace_policy(type_, props, urn, TENANTS)
    assert "municipality verl's object in namespace 'guetersloh'" in msg


def test_a_municipality_object_may_not_be_cluster_scoped_or_in_the_gateway_namespace(sample):
    type_, props, urn = resource(sample, "ConfigMap", "sample-settings")
    props["metadata"]["namespace"] = names.NS_GATEWAY
    assert pack.municipality_namespace_policy(type_, props, urn, TENANTS)
    del props["metadata"]["namespace"]
    assert "cluster-scoped" in pack.municipality_namespace_policy(type_, props, urn, TENANTS)[0]


def test_the_identity_module_may_place_the_realm_job_in_the_identity_namespace(sample):
    type_, props, urn = resource(sample, "ConfigMap", "sample-settings")
    props["metadata"]["namespace"] = names.NS_IDENTITY
    assert pack.municipality_namespace_policy(type_, props, urn, TENANTS)
    props["metadata"]["labels"][labels.MODULE] = "identity"
    assert pack.municipality_namespace_policy(type_, props, urn, TENANTS) == []


def test_the_real_realm_job_is_the_identity_exception(plan_stack):
    jobs = [r for r in plan_stack("verl").kube_objects() if (r.inputs.get("metadata") or {}).get("namespace")
            == names.NS_IDENTITY and r.inputs["kind"] != "HTTPRoute"]
    assert jobs
    for r in jobs:
        assert r.inputs["metadata"]["labels"][labels.MODULE] == "identity"
        assert pack.municipality_namespace_policy(r.type, r.inputs, r.urn) == []


def test_the_back_channel_objects_in_shared_namespaces_are_the_gateway_exceptions(plan_stack):
    """Route next to Keycloak, Service and policy on the Envoy pods (docs/decisions/0012): nothing else of the
    municipality's gateway component leaves its namespace."""
    outside = [r for r in plan_stack("verl").kube_objects()
               if (r.inputs.get("metadata") or {}).get("namespace") in (names.NS_GATEWAY, names.NS_IDENTITY)
               and r.inputs["metadata"]["labels"][labels.MODULE] == "gateway"]
    assert sorted((r.inputs["kind"], r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
                  for r in outside) == [("HTTPRoute", names.NS_IDENTITY, "verl-backchannel"),
                                        ("NetworkPolicy", names.NS_GATEWAY, "backchannel-verl"),
                                        ("Service", names.NS_GATEWAY, "backchannel-verl")]
    assert all(pack.municipality_namespace_policy(r.type, r.inputs, r.urn) == [] for r in outside)


# -- no-host-access -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "needle"), [
    (lambda p: container(p)["securityContext"].update(privileged=True), "is privileged"),
    (lambda p: p["spec"]["template"]["spec"].update(hostNetwork=True), "hostNetwork: true"),
    (lambda p: p["spec"]["template"]["spec"].update(hostPID=True), "hostPID: true"),
    (lambda p: p["spec"]["template"]["spec"]["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
     "volume 'root' is a hostPath"),
    (lambda p: container(p)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]), "adds capabilities"),
    (lambda p: container(p)["securityContext"].update(allowPrivilegeEscalation=True), "privilege escalation"),
])
def test_host_access_is_a_violation(sample, change, needle):
    type_, props, urn = resource(sample, "Deployment", "sample-web")
    assert pack.no_host_access_policy(type_, props, urn) == []
    change(props)
    [msg] = pack.no_host_access_policy(type_, props, urn)
    assert msg.startswith("Deployment verl/sample-web spec.template.spec") and needle in msg


def test_host_access_exceptions_never_cover_a_municipality(sample):
    type_, props, urn = resource(sample, "Deployment", "sample-web")
    props["metadata"]["namespace"] = names.NS_STORAGE
    container(props)["securityContext"]["privileged"] = True
    assert pack.no_host_access_policy(type_, props, urn)
    props["metadata"]["labels"][labels.TENANT] = labels.SHARED_TENANT
    assert pack.no_host_access_policy(type_, props, urn) == []


# -- pinned-images ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("image", "ok"), [
    ("quay.io/keycloak/keycloak:26.4.5", True),
    ("ghcr.io/x/y@sha256:" + "a" * 64, True),
    ("quay.io/keycloak/keycloak:latest", False),
    ("quay.io/keycloak/keycloak", False),
    ("localhost:5000/app", False),
])
def test_only_exact_tags_or_digests_are_allowed(sample, image, ok):
    type_, props, urn = resource(sample, "Deployment", "sample-web")
    container(props)["image"] = image
    assert (pack.pinned_images_policy(type_, props, urn) == []) is ok


def test_helm_values_and_custom_resources_are_checked_for_latest_too():
    values = {"values": {"image": {"repository": "ghcr.io/x/y", "tag": "latest"}}}
    assert "uses the tag 'latest'" in pack.pinned_images_policy("kubernetes:helm.sh/v4:Chart", values)[0]
    cluster = {"kind": "Cluster", "metadata": {"name": "c"}, "spec": {"imageName": "ghcr.io/cloudnative-pg/postgis"}}
    assert pack.pinned_images_policy("kubernetes:postgresql.cnpg.io/v1:Cluster", cluster)


# -- no-plaintext-secrets -------------------------------------------------------------------------------------------------

def test_a_literal_password_in_env_is_a_violation_a_secret_reference_is_not(sample):
    type_, props, urn = resource(sample, "Deployment", "sample-web")
    assert pack.no_plaintext_secrets_policy(type_, props, urn) == []
    container(props)["env"].append({"name": "DB_PASSWORD", "value": "hunter2"})
    [msg] = pack.no_plaintext_secrets_policy(type_, props, urn)
    assert "'DB_PASSWORD' has a literal value" in msg


@pytest.mark.parametrize(("data", "bad"), [
    ({"LOG_LEVEL": "info", "OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc"}, False),
    ({"API_KEY": "abc123"}, True),
    ({"clientSecret": "s3cr3t"}, True),
    ({"config.yaml": "db:\n  host: x\n  password: hunter2\n"}, True),
    ({"settings.js": "module.exports = {\n  credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET,\n}\n"}, False),
    ({"realm.json": '{\n  "secret": "$(env:CLIENT_SECRET)",\n  "publicKey": "MIIB"\n}\n'}, False),
    ({"TOKEN_TTL": "300", "secretName": "db-app", "tokenUrl": "https://id.example/token"}, False),
])
def test_configmaps_with_literal_secrets_are_violations(sample, data, bad):
    type_, props, urn = resource(sample, "ConfigMap", "sample-settings")
    props["data"] = data
    assert bool(pack.no_plaintext_secrets_policy(type_, props, urn)) is bad


# -- the pack ---------------------------------------------------------------------------------------------------------------

def test_the_pack_runs_every_policy_mandatory_in_the_projects_virtualenv():
    main = (POLICY_DIR / "__main__.py").read_text()
    assert "EnforcementLevel.MANDATORY" in main and "for rule in POLICIES" in main
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    assert {p.name for p in pack.POLICIES} == {"cost-labels", "municipality-namespace", "no-host-access",
                                               "pinned-images", "no-plaintext-secrets"}
    assert "pulumi preview --policy-pack policy" in (POLICY_DIR / "README.md").read_text()
