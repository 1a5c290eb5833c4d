"""The Keycloak operator release we pin, read from its own OLM bundle (vendor/keycloak-operator-26.8.0/: a verbatim
excerpt of its ClusterServiceVersion): the CR is written in a version that release serves, and what the plan
installs is what that bundle installs: its CRD files (from the bundle's commit), and the ServiceAccount, RBAC and
Deployment derived from the CSV, granting exactly its rules and running exactly its image, environment and
resources."""

from __future__ import annotations

import json

import yaml

from catalogue.paths import ROOT
from catalogue.versions import IMAGES, KEYCLOAK_CONFIG_CLI_PAIRINGS, MANIFESTS
from components.shared.identity import KEYCLOAK_API_VERSION
from components.shared.operators import keycloak_operator_csv, keycloak_operator_objects
from tests.plan_files import objects_of

PINNED = MANIFESTS["keycloak-operator"].version
CSV = keycloak_operator_csv(PINNED)


def served(kind: str) -> set[str]:
    return {f"k8s.keycloak.org/{crd['version']}" for crd in CSV["spec"]["customresourcedefinitions"]["owned"]
            if crd["kind"] == kind}


def triples(rules) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups") or [""]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_the_excerpt_is_of_the_pinned_release():
    assert CSV["metadata"]["name"] == f"keycloak-operator.v{PINNED}" and str(CSV["spec"]["version"]) == PINNED
    assert (ROOT / "vendor" / f"keycloak-operator-{PINNED}" / f"olm-csv-{PINNED}.excerpt.yaml").is_file()


def test_keycloak_its_operator_and_the_image_the_operator_runs_are_one_release():
    [deployment] = CSV["spec"]["install"]["spec"]["deployments"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert IMAGES["keycloak"].tag == PINNED
    assert {e["name"]: e.get("value") for e in container["env"]}["RELATED_IMAGE_KEYCLOAK"] == IMAGES["keycloak"].ref


def test_keycloak_config_cli_is_paired_with_the_pinned_keycloak_line():
    line = ".".join(PINNED.split(".")[:2])
    tag = IMAGES["keycloak-config-cli"].tag
    built_for = tag.split("-", 1)[1]
    assert built_for.startswith(f"{line}.") or KEYCLOAK_CONFIG_CLI_PAIRINGS[line][0] == tag


def test_the_keycloak_cr_is_written_in_a_version_the_pinned_operator_serves(real_plan_dir):
    cr = yaml.safe_load((real_plan_dir / "shared" / "keycloak-urban-identity-keycloak.yaml").read_text())
    assert cr["apiVersion"] == KEYCLOAK_API_VERSION
    assert cr["apiVersion"] in served("Keycloak"), f"{PINNED} serves {served('Keycloak')}"
    # 26.8.0 serves v2beta1 and v2alpha1; the CR uses v2beta1, the storage version of its keycloaks CRD
    assert KEYCLOAK_API_VERSION == "k8s.keycloak.org/v2beta1"


def test_a_cr_in_a_version_the_release_does_not_serve_is_caught():
    assert "k8s.keycloak.org/v1" not in served("Keycloak")
    assert "k8s.keycloak.org/v2beta1" not in served("KeycloakOIDCClient")


def test_the_stack_applies_every_crd_the_release_owns_from_its_bundle():
    owned = {crd["name"] for crd in CSV["spec"]["customresourcedefinitions"]["owned"]}
    files = {f.rsplit("/", 1)[-1] for f in MANIFESTS["keycloak-operator"].files}
    assert files == {f"{name.split('.')[0]}.k8s.keycloak.org-v1.crd.yml" for name in owned}
    assert all(url.startswith(f"{MANIFESTS['keycloak-operator'].base}/{PINNED}/manifests/")
               for url in MANIFESTS["keycloak-operator"].urls)


def test_the_plan_shows_each_crd_file_or_names_it_as_not_rendered(real_plan_dir):
    folder = real_plan_dir / "shared" / "manifests-keycloak-operator"
    info = json.loads((folder / "render.json").read_text())
    crds = {o["metadata"]["name"] for o in objects_of(real_plan_dir, "shared", "manifests-keycloak-operator").values()
            if o["kind"] == "CustomResourceDefinition"}
    named = {line.split(" ", 1)[0] for line in info["notRendered"]}
    for url in MANIFESTS["keycloak-operator"].urls:
        crd = url.rsplit("/", 1)[-1].removesuffix("-v1.crd.yml")
        assert (crd in crds) != (url in named), url


def test_the_installed_rbac_grants_what_the_pinned_release_grants(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "manifests-keycloak-operator")
    cluster_roles = {o["metadata"]["name"]: o for o in objs.values() if o["kind"] == "ClusterRole"}
    roles = {o["metadata"]["name"]: o for o in objs.values() if o["kind"] == "Role"}
    bound = [o["roleRef"]["name"] for o in objs.values() if o["kind"] == "RoleBinding"]
    namespaced = [r for name in bound for r in (roles.get(name) or cluster_roles[name])["rules"]]
    cluster_wide = [r for o in objs.values() if o["kind"] == "ClusterRoleBinding"
                    for r in cluster_roles[o["roleRef"]["name"]]["rules"]]
    install = CSV["spec"]["install"]["spec"]
    assert triples(namespaced) == triples(r for p in install["permissions"] for r in p["rules"])
    assert triples(cluster_wide) == triples(r for p in install["clusterPermissions"] for r in p["rules"])
    for binding in (o for o in objs.values() if o["kind"].endswith("RoleBinding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "keycloak-operator",
                                        "namespace": "urban-identity"}]


def test_the_operator_deployment_runs_the_pinned_release_with_its_env_and_resources(real_plan_dir):
    deploy = objects_of(real_plan_dir, "shared", "manifests-keycloak-operator")[
        "deployment-urban-identity-keycloak-operator.yaml"]
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    [release] = CSV["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == release["image"] and container["env"] == release["env"]
    assert container["resources"] == release["resources"]
    # OLM's OwnNamespace install: the controllers' *_NAMESPACES variables read this annotation
    assert deploy["spec"]["template"]["metadata"]["annotations"]["olm.targetNamespaces"] == "urban-identity"
    assert deploy["spec"]["selector"] == CSV["spec"]["install"]["spec"]["deployments"][0]["spec"]["selector"]
    assert container["imagePullPolicy"] == "IfNotPresent" and release["imagePullPolicy"] == "Always"


def test_the_install_objects_are_derived_from_the_csv_alone():
    objs = keycloak_operator_objects(PINNED, "ns")
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("ServiceAccount", "keycloak-operator"),
        ("ClusterRole", "keycloak-operator-clusterrole"), ("ClusterRoleBinding", "keycloak-operator-clusterrole-binding"),
        ("Role", "keycloak-operator-role"), ("RoleBinding", "keycloak-operator-role-binding"),
        ("Deployment", "keycloak-operator")]
    # the CSV itself is not changed by deriving
    assert keycloak_operator_csv(PINNED) == CSV
