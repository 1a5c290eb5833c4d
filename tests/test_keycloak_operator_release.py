"""The Keycloak operator release we pin, read from its own OLM bundle (an excerpt of the 26.4.5 CSV in
vendor/keycloak-operator-26.4.5/): the CR is written in a version that release serves, and the release manifests
the plan installs (a 26.4.2 file standing in, PROVENANCE.md) grant exactly the rules and run exactly the image and
resources that release ships."""

from __future__ import annotations

import yaml

from catalogue.paths import ROOT
from catalogue.versions import IMAGES, MANIFESTS
from components.shared.identity import KEYCLOAK_API_VERSION
from tests.plan_files import objects_of

PINNED = MANIFESTS["keycloak-operator"].version
CSV = yaml.safe_load((ROOT / "vendor" / f"keycloak-operator-{PINNED}" / f"olm-csv-{PINNED}.excerpt.yaml").read_text())


def served(kind: str) -> set[str]:
    return {f"k8s.keycloak.org/{crd['version']}" for crd in CSV["spec"]["customresourcedefinitions"]["owned"]
            if crd["kind"] == kind}


def triples(rules) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups") or [""]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_the_excerpt_is_of_the_pinned_release():
    assert CSV["metadata"]["name"] == f"keycloak-operator.v{PINNED}" and str(CSV["spec"]["version"]) == PINNED


def test_the_keycloak_cr_is_written_in_a_version_the_pinned_operator_serves(real_plan_dir):
    cr = yaml.safe_load((real_plan_dir / "shared" / "keycloak-urban-identity-keycloak.yaml").read_text())
    assert cr["apiVersion"] == KEYCLOAK_API_VERSION
    assert cr["apiVersion"] in served("Keycloak"), f"{PINNED} serves {served('Keycloak')}"


def test_the_installed_rbac_grants_what_the_pinned_release_grants(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "manifests-keycloak-operator")
    cluster_roles = {o["metadata"]["name"]: o for o in objs.values() if o["kind"] == "ClusterRole"}
    roles = {o["metadata"]["name"]: o for o in objs.values() if o["kind"] == "Role"}
    # namespaced grants: the Role plus the ClusterRoles bound by RoleBindings (all in the operator's namespace)
    bound = [o["roleRef"]["name"] for o in objs.values() if o["kind"] == "RoleBinding" and o["roleRef"]["name"] != "view"]
    namespaced = [r for name in bound for r in (roles.get(name) or cluster_roles[name])["rules"]]
    cluster_wide = [r for o in objs.values() if o["kind"] == "ClusterRoleBinding"
                    for r in cluster_roles[o["roleRef"]["name"]]["rules"]]
    install = CSV["spec"]["install"]["spec"]
    assert triples(namespaced) == triples(r for p in install["permissions"] for r in p["rules"])
    assert triples(cluster_wide) == triples(r for p in install["clusterPermissions"] for r in p["rules"])


def test_the_operator_deployment_runs_the_pinned_release_with_its_resources(real_plan_dir):
    deploy = objects_of(real_plan_dir, "shared", "manifests-keycloak-operator")[
        "deployment-urban-identity-keycloak-operator.yaml"]
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    [release] = CSV["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == release["image"]
    assert container["resources"] == release["resources"]
    related = {e["name"]: e.get("value") for e in release["env"]}["RELATED_IMAGE_KEYCLOAK"]
    assert {e["name"]: e.get("value") for e in container["env"]}["RELATED_IMAGE_KEYCLOAK"] == related
    assert related == IMAGES["keycloak"].ref
