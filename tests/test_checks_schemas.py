"""Every object validates against the official Kubernetes schemas (strict) and every custom resource
against the CRD the plan installs; breaking a field on a copy of the plan fails with the file and the rule.
(The API server's treatment of custom resources in detail: tests/test_crds.py.)"""

from __future__ import annotations

from kubernetes_validate import utils as kv

from tests.plan_files import edit
from urbanstack.checks import schemas
from urbanstack.checks.base import load_plan
from urbanstack.engine import crds


def failures_for(plan_dir, file):
    result = schemas.run(load_plan(plan_dir))
    return [f for f in result.failures if f.file.endswith(file)], result


def test_the_target_kubernetes_version_is_pinned_once_and_bundled_by_kubernetes_validate():
    assert schemas.KUBERNETES_VERSION in {kv.major_minor(v) for v in kv.all_versions()}


def test_the_hardened_sample_validates_strictly(crafted):
    result = schemas.run(load_plan(crafted))
    sample = [f for f in result.failures if "-sample-" in f.file]
    assert sample == [], "\n".join(map(str, sample))
    assert "custom resources against the CRDs the plan installs" in result.figure()


def test_a_misspelt_field_of_a_deployment_fails_in_strict_mode(crafted):
    path = crafted / "verl" / "deployment-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolcy="Always"))
    found, _ = failures_for(crafted, path.name)
    assert [f.rule for f in found] == ["k8s-schema"]
    assert "Deployment verl/sample-web" in found[0].message
    assert "imagePullPolcy" in found[0].message
    assert f"Kubernetes {schemas.KUBERNETES_VERSION} (strict)" in found[0].message


def test_an_unknown_field_of_a_custom_resource_is_a_field_the_api_server_would_prune(crafted):
    path = crafted / "verl" / "httproute-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"].update(hostnamez=["x.example"]))
    found, _ = failures_for(crafted, path.name)
    assert [f.rule for f in found] == ["crd-pruned"]
    assert "HTTPRoute verl/sample-web" in found[0].message and "spec.hostnamez: unknown field" in found[0].message


def test_a_wrong_type_in_a_custom_resource_fails_against_the_installed_crds_schema(crafted):
    path = crafted / "verl" / "httproute-verl-sample-web.yaml"
    edit(path, lambda o: o["spec"].update(hostnames="x.example"))
    found, _ = failures_for(crafted, path.name)
    assert "crd-schema" in [f.rule for f in found]
    assert any("spec.hostnames: 'x.example' is not of type 'array'" in f.message for f in found)


def test_an_unknown_top_level_field_or_metadata_field_of_a_custom_resource_fails(crafted):
    path = crafted / "verl" / "httproute-verl-sample-web.yaml"
    edit(path, lambda o: (o.update(specs={}), o["metadata"].update(label={"a": "b"})))
    found, _ = failures_for(crafted, path.name)
    messages = " ".join(f.message for f in found)
    assert "specs: unknown field, the API server would prune it" in messages
    assert "metadata" in messages and "label" in messages


def test_a_custom_resource_of_a_version_its_crd_does_not_serve_fails_instead_of_passing(crafted):
    path = crafted / "verl" / "httproute-verl-sample-web.yaml"
    edit(path, lambda o: o.update(apiVersion="gateway.networking.k8s.io/v9"))
    found, _ = failures_for(crafted, path.name)
    assert [f.rule for f in found] == ["crd-version"]
    assert "version not served: gateway.networking.k8s.io/v9 HTTPRoute" in found[0].message
    assert "serves v1, v1beta1" in found[0].message


def test_loaded_schemas_and_compiled_rules_are_cached(crafted):
    schemas.run(load_plan(crafted))
    before = schemas.builtin_validator.cache_info().hits
    rules_before = crds.cel_program.cache_info().hits
    schemas.run(load_plan(crafted))
    assert schemas.builtin_validator.cache_info().hits > before
    assert crds.cel_program.cache_info().hits > rules_before
