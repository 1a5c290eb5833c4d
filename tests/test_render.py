"""The plan shows what the Helm charts and the Keycloak operator's release manifests install, rendered offline
by Helm's own engine from the vendored copies, with exactly the inputs the program passes to ``helm.v4.Chart``."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from catalogue import versions
from catalogue.versions import CHARTS, MANIFESTS
from tests import plan_files
from urbanstack.checks.base import load_plan, origin_of_folder
from urbanstack.engine import render
from urbanstack.engine.planfiles import CHART_TYPE, CONFIG_GROUP_TYPE, read_objects


def chart_resource(plan, release):
    [res] = [r for r in plan.resources if r.type == CHART_TYPE and r.name == release]
    return res


def objects_of(plan_dir: Path, stack: str, folder: str) -> list[dict]:
    return list(plan_files.objects_of(plan_dir, stack, folder).values())


def find(objs, kind, name):
    [obj] = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


# -- vendored copies ------------------------------------------------------------------------------------------------

def test_every_pinned_chart_and_the_keycloak_operator_release_have_a_vendored_copy():
    assert render.missing_copies() == []


def test_a_chart_version_bump_without_a_copy_fails_with_how_to_refresh_it(monkeypatch):
    bumped = dict(CHARTS, **{"cert-manager": replace(CHARTS["cert-manager"], version="v1.20.0")})
    monkeypatch.setattr(render, "CHARTS", bumped)
    [problem] = render.missing_copies()
    assert "cert-manager" in problem and "v1.20.0" in problem
    assert "vendor/charts/cert-manager-v1.20.0/ does not exist" in problem
    assert "Refresh the copy" in problem and "PROVENANCE.md" in problem


def test_a_keycloak_operator_bump_without_a_copy_that_stands_for_it_fails(monkeypatch):
    bumped = {"keycloak-operator": replace(MANIFESTS["keycloak-operator"], version="26.5.0")}
    monkeypatch.setattr(render, "MANIFESTS", bumped)
    [problem] = render.missing_copies()
    assert "keycloak-operator 26.5.0" in problem and "release.yaml" in problem


def test_the_keycloak_operator_copy_is_the_upstream_bundle_its_provenance_names():
    pinned = MANIFESTS["keycloak-operator"].version
    folder = render.manifests_folder(pinned)
    release = yaml.safe_load((folder / "release.yaml").read_text(encoding="utf-8"))
    assert release["pinned"] == pinned
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    assert release["upstream_commit"] in provenance
    # every vendored file of the bundle is named with its digest
    for path in sorted(folder.iterdir()):
        if path.name not in ("PROVENANCE.md", "release.yaml", "LICENSE"):
            assert hashlib.sha256(path.read_bytes()).hexdigest() in provenance, path.name
    # the CRD files the stack applies come from the same bundle commit and version
    base = MANIFESTS["keycloak-operator"].base
    assert base.endswith(f"/{release['upstream_repo']}/{release['upstream_commit']}/operators/keycloak-operator")
    assert release["upstream_path"] == f"operators/keycloak-operator/{pinned}"
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")


def test_docs_versions_says_how_to_refresh_a_chart_copy():
    from urbanstack.docs import versions_doc

    assert render.REFRESH_CHART in versions_doc()
    assert render.REFRESH_MANIFESTS in versions_doc()


# -- rendering as helm.v4.Chart does --------------------------------------------------------------------------------

def test_charts_are_rendered_with_the_values_release_and_namespace_the_program_passes(real_plan_dir):
    cnpg = objects_of(real_plan_dir, "shared", "chart-cloudnative-pg")
    deploy = find(cnpg, "Deployment", "cloudnative-pg")
    assert deploy["metadata"]["namespace"] == "urban-operators"
    pod = deploy["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "urban-platform-critical"  # components/shared/operators.py cnpg_values
    config = find(cnpg, "ConfigMap", "cnpg-controller-manager-config")
    assert config["data"]["INHERITED_LABELS"] == "urban-stack/tenant,urban-stack/module,urban-stack/cost-center," \
                                                 "urban-stack/cost-share"


def test_hook_objects_are_left_out_as_helm_v4_chart_leaves_them_and_listed(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "chart-envoy-gateway")
    assert not [o for o in objs if "helm.sh/hook" in (o["metadata"].get("annotations") or {})]
    assert not [o for o in objs if o["kind"] == "Job"]
    listed = json.loads((real_plan_dir / "shared" / "chart-envoy-gateway" / "render.json").read_text())
    assert any(h.startswith("Job envoy-gateway-gateway-helm-certgen") for h in listed["skippedHooks"])


def test_crds_of_a_charts_crds_folder_are_installed_unless_skip_crds(plan_stack):
    plan = plan_stack("shared")
    res = chart_resource(plan, "envoy-gateway")
    kinds = [o["kind"] for o in render.render_chart(res, plan.transforms).objects]
    # gateway-helm v1.9.0 keeps its CRDs in the ``crds/`` folder of its subchart ``charts/crds`` (since v1.8.0);
    # Helm installs the CRDs of every subchart that is enabled (``crds.enabled``, on by default)
    folder = render.chart_folder(CHARTS["envoy-gateway"])
    in_files = [d for f in sorted(folder.glob("charts/crds/crds/**/*.yaml"))
                for d in yaml.safe_load_all(f.read_text(encoding="utf-8"))
                if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    assert kinds.count("CustomResourceDefinition") == len(in_files) == 21
    skipped = replace(res, inputs={**res.inputs, "skipCrds": True})
    assert "CustomResourceDefinition" not in [o["kind"] for o in render.render_chart(skipped, plan.transforms).objects]


def test_the_vendored_keycloak_operator_crd_files_are_rendered_as_crds_and_only_the_others_are_named(plan_stack):
    plan = plan_stack("shared")
    [res] = [r for r in plan.resources if r.type == CONFIG_GROUP_TYPE and r.name == "keycloak-operator"]
    rendered = render.render_keycloak_operator(res, plan.transforms)
    crds = [o for o in rendered.objects if o["kind"] == "CustomResourceDefinition"]
    assert sorted(o["metadata"]["name"] for o in crds) == ["keycloakrealmimports.k8s.keycloak.org",
                                                           "keycloaks.k8s.keycloak.org"]
    assert not any("namespace" in o["metadata"] for o in crds)
    # the client CRDs of the bundle have no vendored copy (vendor/keycloak-operator-<version>/PROVENANCE.md)
    assert [line.split(" ", 1)[0].rsplit("/", 1)[-1] for line in rendered.not_rendered] == [
        "keycloakoidcclients.k8s.keycloak.org-v1.crd.yml", "keycloaksamlclients.k8s.keycloak.org-v1.crd.yml"]


def test_a_keycloak_operator_crd_file_without_a_vendored_copy_is_named_not_rendered(plan_stack, tmp_path, monkeypatch):
    import shutil

    plan = plan_stack("shared")
    [res] = [r for r in plan.resources if r.type == CONFIG_GROUP_TYPE and r.name == "keycloak-operator"]
    pinned = MANIFESTS["keycloak-operator"].version
    copy = tmp_path / f"keycloak-operator-{pinned}"
    shutil.copytree(render.manifests_folder(pinned), copy)
    (copy / "keycloaks.k8s.keycloak.org-v1.crd.yml").unlink()
    monkeypatch.setattr(render, "manifests_folder", lambda version: tmp_path / f"keycloak-operator-{version}")
    rendered = render.render_keycloak_operator(res, plan.transforms)
    assert [o["metadata"]["name"] for o in rendered.objects if o["kind"] == "CustomResourceDefinition"] == [
        "keycloakrealmimports.k8s.keycloak.org"]
    assert any("keycloaks.k8s.keycloak.org-v1.crd.yml (no copy at" in line for line in rendered.not_rendered)


def test_manifests_are_split_into_the_documents_helms_own_pattern_gives():
    helm_split = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")  # Helm releaseutil/manifest.go
    text = ("---\na: 1\n  \n---\nb:\n  c: |\n    ---x\n    y\n   \n\n---   \n# only a comment\n---\n"
            "kind: List\nitems:\n- {d: 4}\n--- \ne: [1, 2]\n---\n\n")
    helm_docs = []
    for part in helm_split.split(text):
        if part.strip():
            doc = yaml.safe_load(part)
            if isinstance(doc, dict):
                helm_docs.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    assert render.split_manifests(text) == helm_split.split(text)
    assert list(render.documents(text)) == helm_docs == [{"a": 1}, {"b": {"c": "---x\ny"}}, {"d": 4}, {"e": [1, 2]}]


def test_rendering_a_chart_again_gives_equal_objects_that_do_not_share_state(plan_stack):
    plan = plan_stack("shared")
    res = chart_resource(plan, "cert-manager")
    first = render.render_chart(res, plan.transforms)
    first.objects[0]["metadata"]["name"] = "changed-by-a-caller"
    second, third = (render.render_chart(res, plan.transforms) for _ in range(2))
    assert second.objects == third.objects and second.skipped_hooks == third.skipped_hooks
    assert second.objects[0]["metadata"]["name"] != "changed-by-a-caller"
    other_values = replace(res, inputs={**res.inputs, "values": {**res.inputs["values"], "replicaCount": 3}})
    deployments = [o for o in render.render_chart(other_values, plan.transforms).objects
                   if o["kind"] == "Deployment" and o["metadata"]["name"] == "cert-manager"]
    assert deployments[0]["spec"]["replicas"] == 3


def test_namespaced_chart_objects_without_a_namespace_land_in_the_release_namespace(plan_stack):
    plan = plan_stack("shared")
    rendered = render.render_chart(chart_resource(plan, "rook-ceph"), plan.transforms)
    for obj in rendered.objects:
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in render.CLUSTER_SCOPED_KINDS:
            assert ns is None, obj["metadata"]["name"]
        else:
            assert ns, f"{obj['kind']} {obj['metadata']['name']} has no namespace"


def test_the_stacks_label_transform_labels_chart_children_with_the_charts_component_as_module(real_plan_dir):
    for folder, module in (("chart-cert-manager", "operators"), ("chart-kube-prometheus-stack", "monitoring")):
        for obj in objects_of(real_plan_dir, "shared", folder):
            labels = obj["metadata"].get("labels") or {}
            assert labels.get("urban-stack/module") == module, f"{folder} {obj['kind']} {obj['metadata']['name']}"
            assert labels.get("urban-stack/tenant") == "shared"


def test_an_unpinned_chart_is_refused(plan_stack):
    plan = plan_stack("shared")
    res = chart_resource(plan, "opencost")
    with pytest.raises(RuntimeError, match=r"not pinned in catalogue/versions\.py"):
        render.render_chart(replace(res, inputs={**res.inputs, "version": "9.9.9"}), plan.transforms)


# -- the Keycloak operator's own objects -----------------------------------------------------------------------------

def test_keycloak_operator_objects_are_placed_in_urban_identity_at_the_pinned_release(real_plan_dir):
    objs = objects_of(real_plan_dir, "shared", "manifests-keycloak-operator")
    # the OLM bundle's install objects (no Service: the bundle has none); CRDs once their files are vendored
    assert sorted({o["kind"] for o in objs} - {"CustomResourceDefinition"}) == [
        "ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "ServiceAccount"]
    deploy = find(objs, "Deployment", "keycloak-operator")
    assert deploy["metadata"]["namespace"] == "urban-identity"
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    pinned = versions.MANIFESTS["keycloak-operator"].version
    assert container["image"] == f"quay.io/keycloak/keycloak-operator:{pinned}"
    assert {"name": "RELATED_IMAGE_KEYCLOAK", "value": f"quay.io/keycloak/keycloak:{pinned}"} in container["env"]
    binding = find(objs, "ClusterRoleBinding", "keycloak-operator-clusterrole-binding")
    assert binding["subjects"][0]["namespace"] == "urban-identity"
    assert deploy["spec"]["template"]["metadata"]["labels"]["urban-stack/module"] == "operators"


# -- where objects come from ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "origin"), [("verl", "ours"), ("chart-opencost", "chart"),
                                                 ("manifests-keycloak-operator", "chart"),
                                                 ("operator-cluster", "operator")])
def test_the_origin_of_an_object_follows_its_folder(folder, origin):
    assert origin_of_folder(folder) == origin


def test_reading_the_plan_includes_chart_and_operator_folders_and_every_check_counts_them(real_plan_dir):
    files = {p.parent.name for p, _ in read_objects(real_plan_dir)["shared"]}
    assert {"shared", "chart-cert-manager", "manifests-keycloak-operator", "operator-keycloak"} <= files
    plan = load_plan(real_plan_dir)
    assert all(plan.origins[o] > 0 for o in ("ours", "chart", "operator"))
    from urbanstack.checks import schemas

    figure = schemas.run(plan).figure()
    assert (f"[ours {plan.origins['ours']}, chart {plan.origins['chart']}, operator {plan.origins['operator']} "
            "objects]") in figure


def test_the_gateway_api_safe_upgrades_policy_is_planned_and_admits_the_crds_the_chart_installs(real_plan_dir):
    """gateway-helm v1.9.0 templates the Gateway API safe-upgrades ValidatingAdmissionPolicy and its binding in its
    ``crds`` subchart (moved out of the CRD bundle in v1.9.0, release notes). Its version rule admits the bundle the
    chart installs (v1.6.1) and refuses the v1.3.0 bundle that gateway-helm v1.5.4 installed."""
    from celpy import json_to_cel

    from urbanstack.engine import crds

    folder = real_plan_dir / "shared" / "chart-envoy-gateway"
    [policy] = [plan_files.read(f) for f in folder.glob("validatingadmissionpolicy-*.yaml")]
    [binding] = [plan_files.read(f) for f in folder.glob("validatingadmissionpolicybinding-*.yaml")]
    assert policy["metadata"]["name"] == binding["spec"]["policyName"] == "safe-upgrades.gateway.networking.k8s.io"
    assert binding["spec"]["validationActions"] == ["Deny"]
    [version_rule] = [v for v in policy["spec"]["validations"] if "bundle-version" in v["expression"]
                      and "channel" not in v["expression"]]
    program = crds.cel_program(version_rule["expression"])
    installed = [plan_files.read(f) for f in folder.glob("customresourcedefinition-*.yaml")]
    gateway_api = [c for c in installed if c["spec"]["group"] == "gateway.networking.k8s.io"]
    assert gateway_api and all(c["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] == "v1.6.1"
                               for c in gateway_api)
    assert all(bool(program.evaluate({"object": json_to_cel(c)})) for c in installed)
    old = {**gateway_api[0], "metadata": {**gateway_api[0]["metadata"], "annotations": {
        "gateway.networking.k8s.io/bundle-version": "v1.3.0", "gateway.networking.k8s.io/channel": "experimental"}}}
    assert not bool(program.evaluate({"object": json_to_cel(old)}))
