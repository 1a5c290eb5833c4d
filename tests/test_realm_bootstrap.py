"""A join touches no identity object of the shared stack: each municipality's own stack makes its empty realm and
its realm-job client in the master realm (its bootstrap job), and its realm job can manage that one realm only
(docs/decisions/0013-realm-bootstrap-in-the-municipality-stack.md)."""

from __future__ import annotations

import json
from itertools import permutations

import pytest

from catalogue import names
from catalogue.tenants import load_all
from components.shared import realm_job as rj
from components.shared.identity import MASTER_CACHE_KEY
from components.tenant.identity import (
    BOOTSTRAP_NO_DELETE,
    EMPTY_REALM_FILE,
    REALM_JOB_ROLES,
    bootstrap_cache_key,
    bootstrap_name,
)
from urbanstack.engine.plan import plan_shared

TENANTS = load_all()
SLUGS = sorted(TENANTS)
IDENTITY = "urbanstack:shared:identity"


@pytest.fixture(scope="module")
def plans(plan_stack):
    return {slug: plan_stack(slug) for slug in SLUGS}


def plain(value):
    """A secret input as the mocks deliver it (Pulumi's secret wrapper) or plain."""
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    if isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig:
        return value["value"]
    return value


def one(plan, kind, name, namespace=names.NS_IDENTITY):
    (found,) = plan.find(kind, name, namespace)
    return found


def job_env(job) -> dict[str, dict]:
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def job_options(job) -> dict[str, str]:
    """keycloak-config-cli's command-line options of a job (``--name=value``)."""
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    args = container.get("args") or []
    assert all(a.startswith("--") and "=" in a for a in args), args
    return dict(a[2:].split("=", 1) for a in args)


def bootstrap_job_of(plan, slug):
    (job,) = [r for r in plan.find("Job", namespace=names.NS_IDENTITY)
              if r.inputs["metadata"]["name"].startswith(f"{bootstrap_name(slug)}-")]
    return job


def realm_job_of(plan, slug):
    (job,) = [r for r in plan.find("Job", namespace=names.NS_IDENTITY)
              if r.inputs["metadata"]["name"].startswith(f"realm-{slug}-")]
    return job


def bootstrap_documents(plan, slug) -> dict[str, dict]:
    files = plain(one(plan, "Secret", bootstrap_name(slug)).inputs["stringData"])
    return {name: json.loads(plain(text)) for name, text in files.items()}


# -- the shared stack does not change when a municipality joins ----------------------------------------

def identity_objects(plan) -> dict[str, tuple]:
    """Every resource of the shared stack's identity component (Keycloak, its database, secrets, routes, the master
    realm job) with its inputs and options, by URN."""
    return {r.urn: (r.inputs, r.protect, r.retain_on_delete, sorted(r.depends_on), r.ignore_changes)
            for r in plan.resources if IDENTITY in r.urn}


def test_the_shared_stacks_identity_objects_are_identical_with_3_and_with_4_municipalities():
    three = {slug: TENANTS[slug] for slug in SLUGS[:3]}
    before, after = identity_objects(plan_shared(tenants=three)), identity_objects(plan_shared(tenants=TENANTS))
    assert len(TENANTS) == 4
    assert any(urn.endswith("::realm-master") and "Job" in urn for urn in before), "the master realm job is compared"
    assert before.keys() == after.keys()
    assert [urn for urn in before if before[urn] != after[urn]] == []


def test_the_shared_stacks_identity_takes_no_municipality():
    import inspect

    from components.shared.identity import Identity

    assert "tenants" not in inspect.signature(Identity.__init__).parameters


# -- the bootstrap job: its own realm and its own job client, nothing else -----------------------------

@pytest.mark.parametrize("slug", SLUGS)
def test_a_municipalitys_bootstrap_job_can_only_create_its_own_realm_and_its_own_job_client(plans, slug):
    plan = plans[slug]
    docs = bootstrap_documents(plan, slug)
    assert set(docs) == {EMPTY_REALM_FILE, rj.CONFIG_KEY}
    # Its realm, empty: nothing else of the realm is set (the realm job configures it).
    assert docs[EMPTY_REALM_FILE] == {"realm": slug}
    # In the master realm: one client and its service account; no realm setting, role, group, flow or other client.
    master = docs[rj.CONFIG_KEY]
    assert set(master) == {"realm", "clients", "users"} and master["realm"] == "master"
    (client,) = master["clients"]
    assert client["clientId"] == names.realm_job_client(slug)
    assert client["serviceAccountsEnabled"] is True and client["publicClient"] is False
    assert client["standardFlowEnabled"] is False and client["directAccessGrantsEnabled"] is False
    assert client["implicitFlowEnabled"] is False
    (account,) = master["users"]
    assert account["username"] == f"service-account-{names.realm_job_client(slug)}"
    assert account["serviceAccountClientId"] == names.realm_job_client(slug)
    assert account["clientRoles"] == {f"{slug}-realm": list(REALM_JOB_ROLES)}
    assert not {"realmRoles", "groups", "credentials"} & set(account)
    # The job client's secret is generated by this stack and delivered beside the realm job.
    delivered = plain(one(plan, "Secret", names.realm_job_client(slug)).inputs["stringData"])
    assert delivered["client-id"] == names.realm_job_client(slug)
    assert plain(delivered["client-secret"]) == client["secret"] and len(client["secret"]) == 40


@pytest.mark.parametrize("slug", SLUGS)
def test_the_bootstrap_job_never_deletes_a_client_and_keeps_its_state_apart(plans, slug):
    """keycloak-config-cli 6.5.0: with import.managed.client=no-delete it runs no client deletion; its remote state
    (on, the default) is kept per realm and cache key, here bootstrap-<slug>."""
    job = bootstrap_job_of(plans[slug], slug)
    options, env = job_options(job), job_env(job)
    assert BOOTSTRAP_NO_DELETE == ("client",)
    assert options["import.managed.client"] == "no-delete"
    assert options["import.cache.key"] == bootstrap_cache_key(slug) == f"bootstrap-{slug}"
    assert "import.remote-state.enabled" not in options and "IMPORT_REMOTESTATE_ENABLED" not in env
    # Applied at every run, whatever checksum an earlier run stored (realmReapply re-creates what was deleted).
    assert options["import.cache.enabled"] == "false"
    assert set(options) == {"import.managed.client", "import.cache.key", "import.cache.enabled"}
    # The realm first (Keycloak makes its client <slug>-realm), then the client that gets that client's roles.
    assert env["IMPORT_FILES_LOCATIONS"]["value"].split(",") == [
        f"{rj.CONFIG_DIR}/{EMPTY_REALM_FILE}", f"{rj.CONFIG_DIR}/{rj.CONFIG_KEY}"]


def test_no_two_jobs_that_import_into_the_master_realm_share_a_state_key(plan_stack, plans):
    (master_job,) = plan_stack("shared").find("Job", namespace=names.NS_IDENTITY)
    keys = [job_options(master_job)["import.cache.key"]]
    keys += [job_options(bootstrap_job_of(plans[slug], slug))["import.cache.key"] for slug in SLUGS]
    assert keys[0] == MASTER_CACHE_KEY
    assert len(set(keys)) == len(keys)
    # The municipalities' realm jobs import only their own realm and keep keycloak-config-cli's default key.
    for slug in SLUGS:
        assert job_options(realm_job_of(plans[slug], slug)) == {}


@pytest.mark.parametrize("slug", SLUGS)
def test_the_bootstrap_job_logs_in_as_the_platforms_bootstrap_account_whose_secret_the_stack_never_reads(
        plans, plan_stack, slug):
    plan = plans[slug]
    env = job_env(bootstrap_job_of(plan, slug))
    assert env["KEYCLOAK_GRANTTYPE"]["value"] == "client_credentials"
    for var, key in (("KEYCLOAK_CLIENTID", "client-id"), ("KEYCLOAK_CLIENTSECRET", "client-secret")):
        assert env[var]["valueFrom"]["secretKeyRef"] == {"name": names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET, "key": key}
    # The Secret belongs to the shared stack; this stack neither creates nor reads it, and its value (the shared
    # stack's generated secret) appears nowhere in this stack's plan.
    assert not [r for r in plan.resources if r.name == names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET]
    shared_secret = plain(one(plan_stack("shared"), "Secret", names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET)
                          .inputs["stringData"])["client-secret"]
    assert plain(shared_secret) and plain(shared_secret) not in json.dumps([r.inputs for r in plan.resources])
    # Only the bootstrap job refers to it; the realm job logs in with the municipality's own client.
    mentions = [r.inputs["metadata"]["name"] for r in plan.kube_objects()
                if names.KEYCLOAK_BOOTSTRAP_SERVICE_SECRET in json.dumps(r.inputs)]
    assert mentions == [bootstrap_job_of(plan, slug).inputs["metadata"]["name"]]


@pytest.mark.parametrize("slug", SLUGS)
def test_the_realm_job_runs_after_its_bootstrap_and_with_its_client_secret(plans, slug):
    plan = plans[slug]
    depends = realm_job_of(plan, slug).depends_on
    for before in (bootstrap_job_of(plan, slug), one(plan, "Secret", names.realm_job_client(slug))):
        assert f"{before.type}::{before.name}" in depends


# -- municipality A's realm job cannot manage realm B ------------------------------------------------

@pytest.mark.parametrize(("a", "b"), list(permutations(SLUGS, 2)))
def test_the_realm_job_of_municipality_a_cannot_manage_realm_b(plans, a, b):
    # A's realm job logs in with A's client and nothing else.
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in job_env(realm_job_of(plans[a], a)).values()
            if "valueFrom" in e}
    assert refs == {names.realm_job_client(a)}
    # A's client holds roles of A's realm only, and no other stack grants it anything or makes a client of that name.
    account = f"service-account-{names.realm_job_client(a)}"
    (own,) = [u for u in bootstrap_documents(plans[a], a)[rj.CONFIG_KEY]["users"] if u["username"] == account]
    assert set(own["clientRoles"]) == {f"{a}-realm"} and f"{b}-realm" not in own["clientRoles"]
    others = bootstrap_documents(plans[b], b)[rj.CONFIG_KEY]
    assert account not in {u["username"] for u in others["users"]}
    assert names.realm_job_client(a) not in {c["clientId"] for c in others["clients"]}
    assert not plans[b].find("Secret", names.realm_job_client(a))
    # Roles of client <slug>-realm are admin rights in that realm only; none of A's grants another realm's
    # admin or impersonation.
    assert not {"impersonation", "realm-admin", "manage-authorization", "create-realm"} & set(own["clientRoles"][f"{a}-realm"])


# -- the state settings themselves ------------------------------------------------------------------

def test_state_settings_are_keycloak_config_clis_options_and_unknown_entities_are_refused():
    assert rj.state_args() == []
    assert rj.state_args("bootstrap-verl", ("client",), always_apply=True) == [
        "--import.cache.key=bootstrap-verl", "--import.managed.client=no-delete", "--import.cache.enabled=false"]
    # Entity names as in keycloak-config-cli 6.5.0 application.properties (import.managed.required-action).
    assert rj.state_args("x", ("required-action",)) == ["--import.cache.key=x",
                                                         "--import.managed.required-action=no-delete"]
    with pytest.raises(ValueError, match="managed entities"):
        rj.state_args("x", ("clients",))
    with pytest.raises(ValueError, match="cache key"):
        rj.state_args("a b")
