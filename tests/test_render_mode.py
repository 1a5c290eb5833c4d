"""Render mode (no kubeconfig): rendered Secrets stay private and their passwords are never used for real."""

from __future__ import annotations

import stat

import pulumi
import pytest

from components import provider
from urbanstack.engine.offline import run_stack

PASSWORD = "random:index/randomPassword:RandomPassword"


def passwords(plan):
    found = plan.of_type(PASSWORD)
    assert found, "the stack generates passwords"
    return found


@pytest.mark.parametrize("stack", ["shared", "verl"])
def test_every_password_of_a_rendering_stack_is_marked_so_a_real_deployment_generates_new_ones(
        plan_stack, tenants_copy, monkeypatch, stack):
    monkeypatch.setattr(provider, "has_kubeconfig", lambda: False)
    plan = plan_stack(stack, tenants_dir=tenants_copy)
    for pw in passwords(plan):
        keepers = pw.inputs.get("keepers") or {}
        assert keepers.get(provider.RENDER_KEEPER, "").endswith(f"build/rendered/{stack}"), pw.name


def test_a_stack_deployed_to_a_cluster_keeps_its_passwords_unmarked(plan_stack, tenants_copy, monkeypatch):
    """Adding a keeper to an existing password would replace it: real deployments get none."""
    monkeypatch.setattr(provider, "has_kubeconfig", lambda: True)
    plan = plan_stack("verl", tenants_dir=tenants_copy)
    assert all(provider.RENDER_KEEPER not in (pw.inputs.get("keepers") or {}) for pw in passwords(plan))


def test_an_existing_render_folder_is_made_private_and_a_warning_names_the_plain_text_secrets(
        tmp_path, monkeypatch):
    monkeypatch.setattr(provider, "has_kubeconfig", lambda: False)
    out = tmp_path / "build" / "rendered" / "verl"
    (out / "1-manifest").mkdir(parents=True)
    old = out / "1-manifest" / "v1-secret-verl-db-geodata.yaml"
    old.write_text("stringData: {password: rendered-before}\n")
    for p in (tmp_path / "build" / "rendered", out, out / "1-manifest"):
        p.chmod(0o755)
    old.chmod(0o644)
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))

    run_stack("verl", lambda: {"provider": provider.make_provider("verl", tmp_path).urn})

    for p in (tmp_path / "build" / "rendered", out, out / "1-manifest"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert any("plain text" in w and str(out) in w for w in warnings)


def test_the_transform_leaves_other_resources_alone_and_keeps_existing_keepers(tmp_path):
    transform = provider.rendered_passwords_transform(tmp_path)
    args = pulumi.ResourceTransformArgs(custom=True, type_="kubernetes:core/v1:Secret", name="s",
                                        props={"stringData": {"a": "b"}}, opts=pulumi.ResourceOptions())
    assert transform(args) is None
    args = pulumi.ResourceTransformArgs(custom=True, type_=PASSWORD, name="p",
                                        props={"length": 32, "keepers": {"rotation": "2026"}},
                                        opts=pulumi.ResourceOptions())
    assert transform(args).props["keepers"] == {"rotation": "2026", provider.RENDER_KEEPER: str(tmp_path)}


@pytest.mark.parametrize(("stack", "ref"), [("rietberg", "ldapBindPassword"),
                                            ("rheda-wiedenbrueck", "federationClientSecret")])
def test_a_rendering_stack_writes_a_placeholder_never_the_directorys_real_secret(plan_stack, monkeypatch, stack, ref):
    """The federation's secret comes from the stack's config and is a real credential of the municipality's own
    directory: render mode (Secrets in plain text on disk) puts a placeholder in the realm instead."""
    import json

    real = "the-directorys-real-secret-4711"
    config = {f"urban-stack:{ref}": real}

    def realm_text(kubeconfig: bool) -> str:
        monkeypatch.setattr(provider, "has_kubeconfig", lambda: kubeconfig)
        plan = plan_stack(stack, config=config)
        (secret,) = [r for r in plan.of_type("kubernetes:core/v1:Secret")
                     if r.inputs["metadata"]["name"] == f"realm-{stack}"]
        return json.dumps(secret.inputs["stringData"])

    rendered = realm_text(kubeconfig=False)
    assert real not in rendered and provider.RENDER_PLACEHOLDER in rendered
    deployed = realm_text(kubeconfig=True)
    assert real in deployed and provider.RENDER_PLACEHOLDER not in deployed
