"""Stack config urban-stack:realmReapply runs a realm job again with an unchanged document (after a Keycloak
restore or a recreated Keycloak): changing it changes the job's name, and nothing else of the stack."""

from __future__ import annotations

from catalogue.names import CONFIG_NS
from catalogue.shared_config import SHARED_CONFIG, stack_config


def inputs_by_name(plan) -> dict[str, dict]:
    out = {f"{r.type}/{r.name}": r.inputs for r in plan.resources}
    assert len(out) == len(plan.resources)
    return out


def only_differences(before, after) -> dict[str, tuple]:
    a, b = inputs_by_name(before), inputs_by_name(after)
    assert a.keys() == b.keys()
    return {name: (a[name], b[name]) for name in a if a[name] != b[name]}


def test_changing_realm_reapply_in_shared_renames_only_the_master_realm_job(plan_stack):
    """The master realm only: the municipalities' realms and clients are re-applied by their own stacks."""
    base = stack_config(SHARED_CONFIG)
    first = plan_stack("shared", config={**base, f"{CONFIG_NS}:realmReapply": "2026-12-06"})
    second = plan_stack("shared", config={**base, f"{CONFIG_NS}:realmReapply": "2026-12-07"})
    changed = only_differences(first, second)
    assert list(changed) == ["kubernetes:batch/v1:Job/realm-master"]
    old, new = changed["kubernetes:batch/v1:Job/realm-master"]
    assert old["metadata"]["name"] != new["metadata"]["name"]
    assert old["metadata"]["name"].startswith("realm-master-") and new["metadata"]["name"].startswith("realm-master-")
    assert old["spec"] == new["spec"]


def test_unset_realm_reapply_keeps_the_job_name_the_document_alone_makes(plan_stack):
    unset = plan_stack("shared")
    empty = plan_stack("shared", config={**stack_config(SHARED_CONFIG), f"{CONFIG_NS}:realmReapply": ""})
    assert only_differences(unset, empty) == {}


def test_a_municipality_stack_re_applies_its_bootstrap_and_its_realm_when_its_value_changes(plan_stack):
    """After a restore to a time before the municipality joined, its realm and realm-job client are gone: the
    bootstrap job (docs/decisions/0013) runs again with the realm job."""
    first = plan_stack("verl", config={f"{CONFIG_NS}:realmReapply": "restore-1"})
    second = plan_stack("verl", config={f"{CONFIG_NS}:realmReapply": "restore-2"})
    changed = only_differences(first, second)
    assert sorted(changed) == ["kubernetes:batch/v1:Job/bootstrap-verl", "kubernetes:batch/v1:Job/realm-verl"]
    for old, new in changed.values():
        assert old["metadata"]["name"] != new["metadata"]["name"] and old["spec"] == new["spec"]
