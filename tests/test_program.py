"""The stack model: `shared`, one stack per tenant file, and nothing else."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from urbanstack.cli import app
from urbanstack.engine.offline import run_stack
from urbanstack.engine.plan import plan_shared
from urbanstack.engine.planfiles import read_objects
from urbanstack.engine.program import UnknownStack, build


def test_an_unknown_stack_fails_and_lists_the_valid_ones():
    with pytest.raises(UnknownStack) as exc:
        run_stack("guetersloh-typo", lambda: build("guetersloh-typo"))
    msg = str(exc.value)
    assert "unknown stack 'guetersloh-typo'" in msg
    for valid in ("shared", "guetersloh", "verl", "rheda-wiedenbrueck", "rietberg"):
        assert valid in msg


def test_a_tenant_stack_reads_the_shared_outputs_through_a_stack_reference(plan_stack):
    plan = plan_stack("verl")
    refs = plan.of_type("pulumi:pulumi:StackReference")
    assert [r.inputs["name"] for r in refs] == ["organization/urban-stack/shared"]


def test_every_kubernetes_object_uses_the_stacks_explicit_provider(plan_stack):
    for stack in ("shared", "verl"):
        plan = plan_stack(stack)
        providers = plan.of_type("pulumi:providers:kubernetes")
        assert len(providers) == 1
        for obj in plan.kube_objects():
            assert obj.provider and obj.provider.startswith(providers[0].urn), (obj.type, obj.name)


def test_a_broken_tenant_file_stops_every_stack_before_anything_is_registered(tenants_copy):
    (tenants_copy / "verl.yaml").write_text("slug: verl\n", encoding="utf-8")
    for stack in ("shared", "guetersloh"):
        with pytest.raises(Exception, match="invalid tenant files, nothing was registered") as exc:
            plan_shared(tenants_copy) if stack == "shared" else run_stack(stack, lambda s=stack: build(s, tenants_copy))
        assert "verl.yaml" in str(exc.value)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("urban-stack:baseDomain", None, "urban-stack:baseDomain: required key is missing"),
        ("urban-stack:storage", {"mode": "minio"}, "urban-stack:storage.mode"),
        ("urban-stack:adminEmail", "betrieb-at-example", "urban-stack:adminEmail"),
        ("urban-stack:profile", "staging", "urban-stack:profile"),
        ("urban-stack:storage", {"mode": "external"}, "needs storage.external"),
        ("urban-stack:replicaCount", 3, "urban-stack:replicaCount: unknown key"),
    ],
)
def test_a_broken_shared_config_fails_with_a_clear_message_before_any_resource(shared_config, key, value, needle):
    if value is None:
        shared_config.pop(key)
    else:
        shared_config[key] = value
    registered = []

    def program():
        try:
            return build("shared")
        finally:
            registered.append(True)

    with pytest.raises(Exception, match="invalid shared stack configuration") as exc:
        plan = run_stack("shared", program, config=shared_config)
        registered.append(plan)
    assert needle in str(exc.value)
    assert "stacks/Pulumi.shared.yaml" in str(exc.value)


def test_cli_plan_writes_one_file_per_object_and_a_resource_list(tmp_path):
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["plan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "No cluster, no Pulumi CLI and no Pulumi engine were used" in result.output
    stacks = read_objects(out)
    assert set(stacks) == {"shared", "verl", "rheda-wiedenbrueck", "rietberg",  # the default cell
                           "shared.stadt-guetersloh", "guetersloh.stadt-guetersloh"}  # Gütersloh's own cell
    for stack, objects in stacks.items():
        assert objects, stack
        for path, obj in objects:
            md = obj["metadata"]
            assert path.name == f"{obj['kind']}-{md.get('namespace', 'cluster')}-{md['name']}.yaml".lower()
        doc = json.loads((out / stack / "resources.json").read_text(encoding="utf-8"))
        assert doc["stack"] == stack
        for r in doc["resources"]:
            assert {"type", "name", "parent", "inputs", "options"} <= set(r)
            assert {"protect", "retainOnDelete", "dependsOn", "provider"} <= set(r["options"])


def test_the_plan_never_contains_secret_values(tmp_path):
    out = tmp_path / "plan"
    CliRunner().invoke(app, ["plan", "--out", str(out)])
    text = "\n".join(p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file())
    assert "mock-" not in text, "a generated password leaked into the plan files"
