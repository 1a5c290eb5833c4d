"""What ``urbanstack/engine/offline.py`` relies on in the Pulumi SDK beyond its documented mocks API.

offline.py uses private SDK names (``rpc._special_sig_key``, ``rpc._special_secret_sig``, ``_sync_await``,
``SETTINGS.rpc_manager``, ``SETTINGS.outputs``). These tests pin the behaviour it needs from them at the pinned SDK
(requirements/dev.lock), with tiny programs, so that a Pulumi bump that changes them fails here, by name, instead
of silently changing every plan.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import rpc

from urbanstack.engine.offline import run_stack, unwrap_secrets


def _config_map(name: str, data: dict) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(name, metadata={"name": name, "namespace": "verl"}, data=data)


def test_a_secret_input_is_recorded_as_its_value_with_its_path():
    # The engine receives a secret as {rpc._special_sig_key: rpc._special_secret_sig, "value": v}.
    def program():
        _config_map("cm", {"plain": "a", "password": pulumi.Output.secret("s3cr3t")})

    plan = run_stack("verl", program)
    [cm] = plan.of_type("kubernetes:core/v1:ConfigMap")
    assert cm.inputs["data"] == {"plain": "a", "password": "s3cr3t"}
    # At the pinned SDK a secret inside a top-level property reaches the engine as that whole property secret: the
    # plan writer therefore redacts all of `data`, never less than the secret.
    assert cm.secret_paths == [("data",)]


def test_the_wire_form_of_a_secret_is_the_one_unwrap_secrets_reads():
    wire = {rpc._special_sig_key: rpc._special_secret_sig, "value": {"k": "v"}}
    found: list = []
    assert unwrap_secrets({"a": [wire]}, (), found) == {"a": [{"k": "v"}]}
    assert found == [("a", 0)]


def test_two_stacks_run_one_after_another_in_one_process_share_nothing():
    first = run_stack("one", lambda: (_config_map("a", {"k": "1"}), {"out": pulumi.Output.secret("x")})[1])
    second = run_stack("two", lambda: (_config_map("b", {"k": "2"}), {"other": "y"})[1])
    assert [r.name for r in first.resources if r.custom] == ["a"]
    assert [r.name for r in second.resources if r.custom] == ["b"]
    assert first.outputs == {"out": "x"} and first.secret_outputs == {"out"}
    assert second.outputs == {"other": "y"} and second.secret_outputs == set()
    assert all(r.urn.startswith("urn:pulumi:two::") for r in second.resources)


def test_a_stack_transform_runs_on_every_resource_under_the_mocks():
    def program():
        def add_label(args: pulumi.ResourceTransformArgs):
            if args.type_ == "kubernetes:core/v1:ConfigMap":
                props = dict(args.props)
                props["metadata"] = {**props["metadata"], "labels": {"seen": "yes"}}
                return pulumi.ResourceTransformResult(props, args.opts)
            return None

        pulumi.runtime.register_resource_transform(add_label)
        _config_map("c", {"k": "v"})

    [cm] = run_stack("verl", program).of_type("kubernetes:core/v1:ConfigMap")
    assert cm.inputs["metadata"]["labels"] == {"seen": "yes"}
