"""Backups survive the platform: production keeps database backups outside the cluster's own storage."""

from __future__ import annotations

import pytest

from catalogue.shared_config import OFFSITE_SECRET, ConfigError, parse
from components.backup import EXTERNAL_KEYS, ROOK_KEYS
from tests.config_samples import OFFSITE
from tests.config_samples import SHARED_REQUIRED as BASE


def test_production_on_the_clusters_own_ceph_is_refused_without_an_offsite_target():
    with pytest.raises(ConfigError) as exc:
        parse({**BASE, "profile": "production", "storage": {"mode": "rook-ceph"}})
    assert str(exc.value).startswith("stacks/Pulumi.shared.yaml: urban-stack:backup.offsite: required for "
                                     "profile 'production'")


def test_production_with_an_offsite_target_or_external_storage_and_dev_are_accepted():
    assert parse({**BASE, "backup": OFFSITE}).backup.offsite.bucket == "offsite-backups"
    assert parse({**BASE, "storage": {"mode": "external", "blockStorageClass": "ceph-block",
                                      "external": {"endpoint": "https://s3.example.de"}}})
    assert parse({**BASE, "profile": "dev"}).backup.offsite is None


def test_an_offsite_target_must_use_https():
    with pytest.raises(ConfigError, match=r"urban-stack:backup\.offsite\.endpoint: must use https"):
        parse({**BASE, "backup": {"offsite": {"endpoint": "http://s3.offsite.example", "bucket": "b-1"}}})


def object_store(plan):
    (store,) = [r for r in plan.kube_objects() if r.inputs.get("kind") == "ObjectStore"]
    return store.inputs["spec"]["configuration"]


def test_a_municipality_without_its_own_target_backs_up_to_the_operators_offsite_target(plan_stack):
    """The example config is production on rook-ceph: verl's WAL and base backups leave the platform."""
    conf = object_store(plan_stack("verl"))
    assert conf["destinationPath"] == "s3://urbanstack-offsite-backups/verl/cnpg"
    assert conf["endpointURL"] == "https://s3.offsite-backup.example"
    assert conf["s3Credentials"] == {"accessKeyId": {"name": OFFSITE_SECRET, "key": EXTERNAL_KEYS[0]},
                                     "secretAccessKey": {"name": OFFSITE_SECRET, "key": EXTERNAL_KEYS[1]}}


def test_a_municipalitys_own_target_takes_precedence(plan_stack):
    conf = object_store(plan_stack("rheda-wiedenbrueck"))
    assert conf["destinationPath"] == "s3://urbanstack-backups/rheda-wiedenbrueck/cnpg"
    assert conf["s3Credentials"]["accessKeyId"]["name"] == "own-backup-credentials"


def test_without_an_offsite_target_the_platform_bucket_is_used():
    """dev, or storage mode external (the bucket is at a provider outside the cluster)."""
    from catalogue.tenants import load_all
    from components.base import BucketInfo
    from components.tenant.database import backup_store

    verl = load_all()["verl"]
    bucket = BucketInfo(name="urbanstack-verl", secret="verl-bucket", config_map="verl-bucket",
                        endpoint="http://rook-ceph-rgw-urban-objects.urban-storage.svc:8080")
    conf = backup_store(verl, bucket, None)["configuration"]
    assert conf["destinationPath"] == "s3://urbanstack-verl/cnpg"
    assert conf["s3Credentials"]["accessKeyId"] == {"name": "verl-bucket", "key": ROOK_KEYS[0]}
