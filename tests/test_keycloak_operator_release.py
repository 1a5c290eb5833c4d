"""The Keycloak operator release we pin, read from its own OLM bundle (vendor/keycloak-operator-26.8.0/: a verbatim
excerpt of its ClusterServiceVersion): the CR is written in a version that release serves, and what the plan
installs is what that bundle installs: its CRD files (from the bundle's commit), and the ServiceAccount, RBAC and
Deployment derived from the CSV, granting exactly its rules and running exactly its image, environment and
resources."""

from __future__ import annotations

import hashlib
import json
import re

import yaml

from catalogue.paths import ROOT
from catalogue.versions import IMAGES, KEYCLOAK_CONFIG_CLI_PAIRINGS, MANIFESTS
from components.shared.identity import KEYCLOAK_API_VERSION
from components.shared.operators import keycloak_operator_csv, keycloak_operator_objects
from tests.plan_files import objects_of

PINNED = MANIFESTS["keycloak-operator"].version
CSV = keycloak_operator_csv(PINNED)
FOLDER = ROOT / "vendor" / f"keycloak-operator-{PINNED}"
VENDORED_CRD_FILES = sorted(FOLDER.glob("*.crd.yml"))


def vendored_crd(name: str) -> dict:
    [doc] = list(yaml.safe_load_all((FOLDER / f"{name}-v1.crd.yml").read_text(encoding="utf-8")))
    return doc


def schema_problems(value, schema: dict, path: str) -> list[str]:
    """Where ``value`` leaves the structural OpenAPI schema of a CRD version: a field it does not declare, or a
    value of another type (what the API server's pruning and validation would drop or reject)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    kind = schema.get("type")
    if isinstance(value, dict):
        if kind != "object" and not ("properties" in schema or "additionalProperties" in schema):
            return [f"{path}: an object where the schema has {kind}"]
        problems = []
        for key, item in value.items():
            if key in schema.get("properties", {}):
                problems += schema_problems(item, schema["properties"][key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += schema_problems(item, schema["additionalProperties"], f"{path}.{key}")
            else:
                problems.append(f"{path}.{key}: no such field")
        return problems
    if isinstance(value, list):
        if kind != "array":
            return [f"{path}: a list where the schema has {kind}"]
        return [p for i, item in enumerate(value) for p in schema_problems(item, schema.get("items", {}), f"{path}[{i}]")]
    if schema.get("x-kubernetes-int-or-string"):
        expected: tuple[type, ...] = (int, str)
    else:
        expected = {"string": (str,), "integer": (int,), "boolean": (bool,), "number": (int, float)}.get(kind, (object,))
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        return [f"{path}: {value!r} is not of type {kind}"]
    return []


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


def test_the_vendored_crd_files_are_the_bundles_files_recorded_in_provenance_by_sha256_and_length():
    provenance = (FOLDER / "PROVENANCE.md").read_text(encoding="utf-8")
    assert [p.name for p in VENDORED_CRD_FILES] == ["keycloakrealmimports.k8s.keycloak.org-v1.crd.yml",
                                                    "keycloaks.k8s.keycloak.org-v1.crd.yml"]
    for path in VENDORED_CRD_FILES:
        data = path.read_bytes()
        row = re.search(rf"^\| `{re.escape(path.name)}` \| `operators/keycloak-operator/{PINNED}/manifests/"
                        rf"{re.escape(path.name)}` \| verbatim, ([\d,]+) characters[^|]*\| `([0-9a-f]{{64}})` \|$",
                        provenance, re.MULTILINE)
        assert row, f"PROVENANCE.md has no row for {path.name}"
        assert int(row[1].replace(",", "")) == len(data.decode("utf-8")) and row[2] == hashlib.sha256(data).hexdigest()


def test_each_vendored_crd_is_one_crd_of_its_file_name_serving_what_the_csv_owns():
    owned: dict[str, set[str]] = {}
    for crd in CSV["spec"]["customresourcedefinitions"]["owned"]:
        owned.setdefault(crd["name"], set()).add(crd["version"])
    for path in VENDORED_CRD_FILES:
        name = path.name.removesuffix("-v1.crd.yml")
        crd = vendored_crd(name)
        assert crd["kind"] == "CustomResourceDefinition" and crd["metadata"]["name"] == name
        assert owned[name] <= {v["name"] for v in crd["spec"]["versions"] if v["served"]}
    # the CR's version is the storage version of the pinned keycloaks CRD
    [storage] = [v["name"] for v in vendored_crd("keycloaks.k8s.keycloak.org")["spec"]["versions"] if v["storage"]]
    assert f"k8s.keycloak.org/{storage}" == KEYCLOAK_API_VERSION


def test_every_field_our_keycloak_cr_sets_is_in_the_pinned_crds_schema_of_its_version(real_plan_dir):
    cr = yaml.safe_load((real_plan_dir / "shared" / "keycloak-urban-identity-keycloak.yaml").read_text())
    version = cr["apiVersion"].split("/", 1)[1]
    [schema] = [v["schema"]["openAPIV3Schema"] for v in vendored_crd("keycloaks.k8s.keycloak.org")["spec"]["versions"]
                if v["name"] == version]
    assert schema_problems(cr["spec"], schema["properties"]["spec"], "spec") == []
    # a field the release does not know, or a wrong type, is caught
    wrong = {**cr["spec"], "truststorePaths": ["/x"], "instances": "2"}
    assert schema_problems(wrong, schema["properties"]["spec"], "spec") == [
        "spec.instances: '2' is not of type integer", "spec.truststorePaths: no such field"]


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
