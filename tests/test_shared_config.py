"""The shared stack's configuration: a broken file stops the stack before anything is registered."""

from __future__ import annotations

import pytest

from catalogue.shared_config import ConfigError, parse
from tests.config_samples import SHARED_VALID
from urbanstack.engine.offline import run_stack
from urbanstack.engine.program import build

VALID = SHARED_VALID


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"baseDomain": None}, "urban-stack:baseDomain: required key is missing"),
        ({"baseDomain": "Not A Domain"}, "urban-stack:baseDomain"),
        ({"storage": {"mode": "minio"}}, "urban-stack:storage.mode"),
        ({"adminEmail": "betrieb-at-example"}, "urban-stack:adminEmail"),
        ({"tls": {"issuer": "self-made"}}, "urban-stack:tls.issuer"),
        ({"storage": {"mode": "external", "external": {"endpoint": "http://s3.example.de"}}}, "must use https"),
    ],
)
def test_a_broken_value_is_reported_with_file_and_key(change, needle):
    raw = {**VALID, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError) as exc:
        parse(raw)
    assert needle in str(exc.value)
    assert str(exc.value).startswith("stacks/Pulumi.shared.yaml: ")


def test_external_storage_mode_must_name_a_block_storage_class_that_exists_in_the_cluster():
    external = {"mode": "external", "external": {"endpoint": "https://s3.example.de"}}
    with pytest.raises(ConfigError) as exc:
        parse({**VALID, "storage": external})
    assert str(exc.value).startswith("stacks/Pulumi.shared.yaml: urban-stack:storage: ")
    assert "set storage.blockStorageClass to one that exists in the cluster" in str(exc.value)
    assert parse({**VALID, "storage": {**external, "blockStorageClass": "standard"}}).storage.blockStorageClass == "standard"
    # rook-ceph creates the class itself: its default name needs no mention.
    assert parse(VALID).storage.blockStorageClass == "ceph-block"


def test_every_problem_of_a_file_is_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        parse({"operatorName": "Betrieb", "operatorCostCenter": "KST-1", "adminEmail": "x", "storage": {"mode": "nfs"}})
    msg = str(exc.value)
    for key in ("baseDomain", "adminEmail", "storage.mode"):
        assert f"urban-stack:{key}" in msg


def test_an_invalid_config_never_reaches_the_shared_components(shared_config, monkeypatch):
    import urbanstack.engine.stacks

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the shared stack was composed from an invalid config")

    monkeypatch.setattr(urbanstack.engine.stacks, "shared_stack", must_not_run)
    shared_config.pop("urban-stack:baseDomain")
    with pytest.raises(Exception, match="invalid shared stack configuration, nothing was registered"):
        run_stack("shared", lambda: build("shared"), config=shared_config)


def test_the_profile_decides_replicas_and_defaults_to_production():
    from components.shared.profile import PROFILES, profile_of

    assert parse(VALID).profile == "production"
    assert profile_of(parse(VALID)).keycloak_instances == 3
    assert profile_of(parse({**VALID, "profile": "dev"})) == PROFILES["dev"]
    for profile in PROFILES.values():
        assert profile.ceph_mons % 2 == 1
