"""Backups survive the platform: production keeps every database backup, Keycloak's included, outside the
cluster's own storage, encrypted at rest, and the stack that creates a namespace also creates the key pair Secret
its backups need (or refuses before anything is registered)."""

from __future__ import annotations

import pytest

from catalogue.shared_config import OFFSITE_CREDENTIALS, OFFSITE_SECRET, SHARED_CONFIG, ConfigError, parse, stack_config
from components.backup import EXTERNAL_KEYS, ROOK_KEYS, SERVER_SIDE_ENCRYPTION
from tests.config_samples import OFFSITE
from tests.config_samples import SHARED_REQUIRED as BASE
from urbanstack.engine.offline import run_stack
from urbanstack.engine.program import build

EXTERNAL = {"mode": "external", "blockStorageClass": "ceph-block", "external": {"endpoint": "https://s3.example.de"}}


@pytest.mark.parametrize("storage", [{"mode": "rook-ceph"}, EXTERNAL], ids=["rook-ceph", "external"])
def test_production_is_refused_without_an_offsite_target_in_either_storage_mode(storage):
    """Keycloak's database went to the in-cluster RGW (rook-ceph) or the provider's platform bucket (external)."""
    with pytest.raises(ConfigError) as exc:
        parse({**BASE, "profile": "production", "storage": storage})
    assert str(exc.value).startswith("stacks/Pulumi.shared.yaml: urban-stack:backup.offsite: required for "
                                     "profile 'production'")


def test_production_with_an_offsite_target_and_dev_without_one_are_accepted():
    assert parse({**BASE, "backup": OFFSITE}).backup.offsite.bucket == "offsite-backups"
    assert parse({**BASE, "storage": EXTERNAL, "backup": OFFSITE}).storage.mode == "external"
    assert parse({**BASE, "profile": "dev"}).backup.offsite is None


def test_an_offsite_target_must_use_https():
    with pytest.raises(ConfigError, match=r"urban-stack:backup\.offsite\.endpoint: must use https"):
        parse({**BASE, "backup": {"offsite": {"endpoint": "http://s3.offsite.example", "bucket": "b-1"}}})


def object_store(plan):
    (store,) = [r for r in plan.kube_objects() if r.inputs.get("kind") == "ObjectStore"]
    return store.inputs["spec"]["configuration"]


def test_keycloaks_database_is_backed_up_to_the_offsite_target_over_tls_encrypted(plan_stack):
    """It was backed up to the in-cluster RGW over plain HTTP although an off-site target was configured."""
    conf = object_store(plan_stack("shared"))
    assert conf["destinationPath"] == "s3://urbanstack-offsite-backups/urban-identity/cnpg"
    assert conf["endpointURL"] == "https://s3.offsite-backup.example"
    assert conf["s3Credentials"] == {"accessKeyId": {"name": OFFSITE_SECRET, "key": EXTERNAL_KEYS[0]},
                                     "secretAccessKey": {"name": OFFSITE_SECRET, "key": EXTERNAL_KEYS[1]}}
    assert conf["wal"]["encryption"] == conf["data"]["encryption"] == SERVER_SIDE_ENCRYPTION
    # No bucket is claimed from the in-cluster RGW for it any more.
    assert not plan_stack("shared").find("ObjectBucketClaim", "urban-keycloak-db-backups")


def test_the_platforms_prefix_in_the_offsite_bucket_can_never_be_a_municipalitys():
    from catalogue.schema import RESERVED_SLUGS

    assert "urban-identity" in RESERVED_SLUGS


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
    assert not plan_stack("rheda-wiedenbrueck").find("Secret", OFFSITE_SECRET), "its own Secret, not ours"


@pytest.mark.parametrize("slug", ["verl", "rheda-wiedenbrueck", "guetersloh", "rietberg"])
def test_every_municipalitys_base_backups_and_wal_are_encrypted_at_rest(plan_stack, slug):
    conf = object_store(plan_stack(slug))
    assert conf["wal"] == {"compression": "gzip", "encryption": SERVER_SIDE_ENCRYPTION}
    assert conf["data"] == {"compression": "gzip", "encryption": SERVER_SIDE_ENCRYPTION}


def test_the_encryption_is_one_the_pinned_plugins_crd_allows(plan_stack):
    import glob
    from pathlib import Path

    import yaml

    (crds,) = glob.glob("vendor/charts/plugin-barman-cloud-*/templates/crds/crds.yaml")
    # The chart wraps its CRDs in `{{- if .Values.crds.create }}`: the template lines are not YAML.
    text = "\n".join(line for line in Path(crds).read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("{{"))
    (crd,) = [d for d in yaml.safe_load_all(text) if d and d["spec"]["names"]["kind"] == "ObjectStore"]
    conf = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "configuration"]["properties"]
    for part in ("wal", "data"):
        assert SERVER_SIDE_ENCRYPTION in conf[part]["properties"]["encryption"]["enum"]


def test_without_an_offsite_target_the_platform_bucket_is_used_and_the_in_cluster_rgw_gets_no_sse():
    """dev: the in-cluster RGW refuses SSE over plain HTTP; an external provider's bucket is encrypted."""
    from catalogue.tenants import load_all
    from components.base import BucketInfo
    from components.tenant.database import backup_store

    verl = load_all()["verl"]
    bucket = BucketInfo(name="urbanstack-verl", secret="verl-bucket", config_map="verl-bucket",
                        endpoint="http://rook-ceph-rgw-urban-objects.urban-storage.svc:8080")
    conf = backup_store(verl, bucket, None)["configuration"]
    assert conf["destinationPath"] == "s3://urbanstack-verl/cnpg"
    assert conf["s3Credentials"]["accessKeyId"] == {"name": "verl-bucket", "key": ROOK_KEYS[0]}
    assert "encryption" not in conf["wal"] and "encryption" not in conf["data"]
    external = backup_store(verl, bucket, None, "external")["configuration"]
    assert external["wal"]["encryption"] == external["data"]["encryption"] == SERVER_SIDE_ENCRYPTION


# The backup-offsite Secret (issue 20): made by the stack that makes the namespace, before the database.

def _secret_and_order(plan, namespace: str):
    (secret,) = plan.find("Secret", OFFSITE_SECRET, namespace)
    (store,) = plan.find("ObjectStore", namespace=namespace)
    clusters = [c for c in plan.find("Cluster", namespace=namespace)]
    return secret, store, clusters


@pytest.mark.parametrize(("stack", "namespace"), [("shared", "urban-identity"), ("verl", "verl")])
def test_the_stack_creates_the_offsite_secret_from_its_config_secrets_before_the_database(stack, namespace):
    from urbanstack.engine.plan import plan_shared, plan_tenant

    cfg = {f"urban-stack:{OFFSITE_CREDENTIALS['ACCESS_KEY_ID']}": "AKIA-DRILL",
           f"urban-stack:{OFFSITE_CREDENTIALS['ACCESS_SECRET_KEY']}": "drill-secret-key"}
    shared = plan_shared(config={**stack_config(SHARED_CONFIG), **cfg})
    plan = shared if stack == "shared" else plan_tenant(stack, shared.outputs, config=cfg)
    secret, store, clusters = _secret_and_order(plan, namespace)
    assert secret.inputs["stringData"] == {"ACCESS_KEY_ID": "AKIA-DRILL", "ACCESS_SECRET_KEY": "drill-secret-key"}
    assert secret.inputs["type"] == "Opaque"
    assert ("stringData",) in secret.secret_paths or ["stringData"] in [list(p) for p in secret.secret_paths]
    assert f"{secret.type}::{secret.name}" in store.depends_on
    assert clusters and all(f"{store.type}::{store.name}" in c.depends_on for c in clusters)
    # What the ObjectStore reads is what the Secret holds.
    creds = store.inputs["spec"]["configuration"]["s3Credentials"]
    assert {creds["accessKeyId"]["key"], creds["secretAccessKey"]["key"]} == set(secret.inputs["stringData"])


@pytest.mark.parametrize("stack", ["shared", "verl"])
def test_without_the_config_secrets_the_stack_refuses_before_anything_is_registered(stack):
    registered = []

    def program():
        registered.append(stack)
        return build(stack)

    with pytest.raises(Exception) as exc:
        run_stack(stack, program, config=stack_config(SHARED_CONFIG) if stack == "shared" else {})
    msg = str(exc.value)
    assert "nothing was registered" in msg
    for name in OFFSITE_CREDENTIALS.values():
        assert f"pulumi config set --secret urban-stack:{name} VALUE -s {stack}" in msg
    assert registered == [stack]


def test_the_config_secrets_are_documented_in_the_shared_config_and_tenant_file_references():
    from pathlib import Path

    shared = Path("docs/shared-config.md").read_text(encoding="utf-8")
    tenant = Path("docs/tenant-file.md").read_text(encoding="utf-8")
    for name in OFFSITE_CREDENTIALS.values():
        assert f"`{name}`" in shared
        assert f"urban-stack:{name}" in tenant
