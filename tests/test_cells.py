"""Cells: one cluster each, with its own platform stack and members (decision record 0015, issue 22).

The example has two cells: ``kreis`` (the default: rheda-wiedenbrueck, rietberg, verl) and ``stadt-guetersloh``
(dedicated to Gütersloh). These tests say what a cell is in the configuration, in the stacks and in the checks.
"""

from __future__ import annotations

import json
import shutil

import pytest

from catalogue import cells
from catalogue.shared_config import SHARED_CONFIG, ConfigError, load_file, parse, stack_config
from catalogue.tenants import TenantError, load_all
from urbanstack.engine.offline import run_stack
from urbanstack.engine.plan import plan_shared, plan_tenant, resolve

NS = "urban-stack:"


def raw_config(**changes) -> dict:
    """The example shared config as `parse` takes it (keys without namespace), secrets left out, with changes."""
    raw = {k[len(NS):]: v for k, v in stack_config(SHARED_CONFIG).items() if k.startswith(NS)}
    raw.update(changes)
    return raw


# -- the configuration ---------------------------------------------------------------------------------------------

def test_a_config_without_cells_has_one_default_cell_whose_stacks_keep_their_names():
    cfg = parse(raw_config(cells=[]))
    assert [c.name for c in cfg.cell_list] == ["default"]
    verl = load_all()["verl"]
    assert cells.platform_stack(cfg, cfg.default_cell) == "shared"
    assert cells.municipality_stack(cfg, verl) == "verl"
    assert cfg.in_cell("default") is cfg


def test_the_example_has_a_default_cell_and_a_cell_dedicated_to_guetersloh():
    cfg = load_file()
    layout = {cs.cell: cs for cs in cells.layout(cfg, load_all())}
    assert list(layout) == ["kreis", "stadt-guetersloh"]
    assert layout["kreis"].platform == "shared"
    assert layout["kreis"].members == {"rheda-wiedenbrueck": "rheda-wiedenbrueck", "rietberg": "rietberg",
                                       "verl": "verl"}
    assert layout["stadt-guetersloh"].platform == "shared.stadt-guetersloh"
    assert layout["stadt-guetersloh"].members == {"guetersloh": "guetersloh.stadt-guetersloh"}


def test_a_cell_that_is_not_the_default_needs_the_kubeconfig_context_of_its_cluster():
    with pytest.raises(ConfigError) as err:
        parse(raw_config(cells=[{"name": "kreis", "default": True}, {"name": "nord"}]))
    assert "urban-stack:cells[1].kubernetes.context: required" in str(err.value)
    assert "stacks/Pulumi.shared.yaml" in str(err.value)


def test_exactly_one_cell_is_the_default_and_no_two_cells_share_a_name_or_a_domain():
    ctx = {"kubernetes": {"context": "c"}}
    with pytest.raises(ConfigError, match="exactly one cell must be the default"):
        parse(raw_config(cells=[{"name": "a", **ctx}, {"name": "b", **ctx}]))
    with pytest.raises(ConfigError, match=r"cells\[1\].name: cell 'a' is listed twice"):
        parse(raw_config(cells=[{"name": "a", "default": True}, {"name": "a", **ctx}]))
    base = raw_config()["baseDomain"]
    with pytest.raises(ConfigError, match=r"cells\[1\].baseDomain: .* is already the domain of cell 'a'"):
        parse(raw_config(cells=[{"name": "a", "default": True}, {"name": "b", "baseDomain": base, **ctx}]))


def test_no_cell_may_be_named_global_the_cost_tag_of_no_single_cell():
    with pytest.raises(ConfigError, match=r"cells\[1\].name: 'global' is reserved"):
        parse(raw_config(cells=[{"name": "kreis", "default": True}, {"name": "global", "kubernetes": {"context": "g"}}]))


def test_a_cell_serves_its_platform_below_its_own_domain_and_uses_its_own_values():
    cfg = load_file()
    dedicated = cfg.in_cell("stadt-guetersloh")
    assert dedicated.baseDomain == f"stadt-guetersloh.{cfg.baseDomain}"
    assert dedicated.backup.offsite.bucket == "urbanstack-offsite-stadt-guetersloh"
    assert dedicated.storage == cfg.storage  # not set by the cell: the shared value
    assert cfg.in_cell("kreis") is cfg


def test_a_cells_own_values_are_validated_as_a_whole_and_the_error_names_the_cell():
    # The shared settings are dev (no off-site target needed); the cell is production without one.
    raw = raw_config(profile="dev", backup={}, cells=[
        {"name": "kreis", "default": True},
        {"name": "nord", "profile": "production", "kubernetes": {"context": "nord"}}])
    with pytest.raises(ConfigError) as err:
        parse(raw)
    assert "urban-stack:cells[1] (nord): with the cell's own values" in str(err.value)
    assert "backup.offsite: required for profile 'production'" in str(err.value)


# -- tenant files --------------------------------------------------------------------------------------------------

def test_a_tenant_file_naming_a_cell_the_platform_does_not_have_is_refused_naming_file_and_field(tenants_copy):
    path = tenants_copy / "verl.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "cell: sued\n", encoding="utf-8")
    with pytest.raises(TenantError) as err:
        load_all([tenants_copy])
    text = str(err.value)
    assert "verl.yaml" in text and "cell" in text and "'sued' is not a cell of the platform" in text
    assert "kreis, stadt-guetersloh" in text


def test_the_cell_history_lists_earlier_cells_oldest_first_and_never_the_current_one(tenants_copy):
    path = tenants_copy / "guetersloh.yaml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "cellHistory:\n  - {cell: kreis, until: 2026-10-14}\n", encoding="utf-8")
    moved = load_all([tenants_copy])["guetersloh"]
    import datetime as dt

    assert cells.cell_on(moved, dt.date(2026, 10, 14), "kreis") == "kreis"
    assert cells.cell_on(moved, dt.date(2026, 10, 15), "kreis") == "stadt-guetersloh"
    path.write_text(original + "cellHistory:\n  - {cell: stadt-guetersloh, until: 2026-10-14}\n", encoding="utf-8")
    with pytest.raises(TenantError, match="is the current cell"):
        load_all([tenants_copy])
    path.write_text(original + "cellHistory:\n  - {cell: kreis, until: 2026-10-14}\n"
                    "  - {cell: stadt-guetersloh, until: 2026-03-01}\n", encoding="utf-8")
    with pytest.raises(TenantError, match=r"cellHistory\[1\].until: 2026-03-01 is not after"):
        load_all([tenants_copy])


# -- stacks --------------------------------------------------------------------------------------------------------

def test_a_municipality_stack_reads_its_own_cells_platform_stack(plan_stack):
    refs = plan_stack("guetersloh").of_type("pulumi:pulumi:StackReference")
    assert [r.inputs.get("name") for r in refs] == ["organization/urban-stack/shared.stadt-guetersloh"]
    verl_refs = plan_stack("verl").of_type("pulumi:pulumi:StackReference")
    assert [r.inputs.get("name") for r in verl_refs] == ["organization/urban-stack/shared"]


def test_a_dedicated_cells_municipality_logs_in_at_its_own_cells_keycloak(plan_stack):
    cfg = load_file()
    dedicated = f"https://id.{cfg.cell_domain(cfg.cell('stadt-guetersloh'))}/realms/guetersloh"
    texts = json.dumps([r.inputs for r in plan_stack("guetersloh").kube_objects()])
    assert dedicated in texts
    assert f"https://id.{cfg.baseDomain}/realms/" not in texts


def test_every_stack_of_a_cell_reaches_only_that_cells_cluster(monkeypatch, tmp_path):
    from components import provider

    monkeypatch.setattr(provider, "has_kubeconfig", lambda: True)
    plan = run_stack("x", lambda: {"p": provider.make_provider("x", tmp_path, "urbanstack-stadt-guetersloh").urn})
    assert [r.inputs.get("context") for r in plan.of_type("pulumi:providers:kubernetes")] == \
        ["urbanstack-stadt-guetersloh"]
    plan = run_stack("x", lambda: {"p": provider.make_provider("x", tmp_path).urn})
    assert "context" not in plan.of_type("pulumi:providers:kubernetes")[0].inputs  # the default cell: as before


def test_up_on_a_municipalitys_stack_in_a_cell_it_has_left_is_refused_with_the_way_out():
    from urbanstack.engine.program import UnknownStack, build

    with pytest.raises(UnknownStack) as err:
        run_stack("guetersloh", lambda: build("guetersloh"))
    text = str(err.value)
    assert "names cell 'stadt-guetersloh' (stack 'guetersloh.stadt-guetersloh')" in text
    assert "pulumi destroy -s guetersloh" in text and "nothing was registered" in text


def test_the_default_cells_platform_stack_is_the_same_with_and_without_other_cells():
    def objects(plan):
        return sorted((r.urn, json.dumps(r.inputs, sort_keys=True, default=str)) for r in plan.resources)

    with_cells = plan_shared()
    without = plan_shared(config={**stack_config(SHARED_CONFIG), f"{NS}cells": []})
    assert objects(with_cells) == objects(without)


def test_a_municipality_in_another_cell_registers_what_it_would_in_the_default_cell_under_its_cells_stack_name(
        plan_stack, tenants_copy, monkeypatch):
    path = tenants_copy / "guetersloh.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("cell: stadt-guetersloh\n", ""), encoding="utf-8")
    tenants = load_all([tenants_copy])
    at_home = plan_tenant("guetersloh", plan_shared(tenants_copy, tenants=tenants).outputs, tenants_copy,
                          tenants=tenants)
    assert at_home.stack == "guetersloh"
    dedicated = plan_stack("guetersloh")
    assert dedicated.stack == "guetersloh.stadt-guetersloh"
    assert sorted(r.urn.replace("urn:pulumi:guetersloh.stadt-guetersloh::", "urn:pulumi:guetersloh::")
                  for r in dedicated.resources) == sorted(r.urn for r in at_home.resources)


def test_a_slug_stands_for_the_municipalitys_stack_in_its_own_cell():
    where = resolve("guetersloh", load_all())
    assert (where.stack, where.cell, where.platform) == ("guetersloh.stadt-guetersloh", "stadt-guetersloh",
                                                         "shared.stadt-guetersloh")


# -- the plan and the checks ---------------------------------------------------------------------------------------

def test_the_plan_names_each_cell_with_its_platform_stack_and_members(real_plan_dir):
    doc = json.loads((real_plan_dir / "cells.json").read_text(encoding="utf-8"))
    assert doc["cells"] == [
        {"cell": "kreis", "platform": "shared", "stacks": ["shared", "rheda-wiedenbrueck", "rietberg", "verl"]},
        {"cell": "stadt-guetersloh", "platform": "shared.stadt-guetersloh",
         "stacks": ["shared.stadt-guetersloh", "guetersloh.stadt-guetersloh"]}]


def test_every_check_passes_on_both_cells(real_plan_dir):
    from urbanstack.checks import load_plan, run_all

    results = run_all(load_plan(real_plan_dir), only=["references", "reachability", "rbac", "labels", "policies"])
    assert len(results) == 5
    for r in results:
        assert r.ok, r.figure()
        if r.name != "policy pack":  # each cell judged as its own cluster, and named in the figure
            assert "cell kreis" in r.detail and "cell stadt-guetersloh" in r.detail, r.figure()


def test_a_secret_of_one_cell_does_not_satisfy_a_pod_of_another(real_plan_dir, tmp_path):
    from urbanstack.checks import load_plan, references

    plan_dir = tmp_path / "plan"
    shutil.copytree(real_plan_dir, plan_dir)
    name = "secret-urban-identity-keycloak-initial-admin.yaml"
    assert (plan_dir / "shared" / name).is_file()
    (plan_dir / "shared.stadt-guetersloh" / name).unlink()
    views = load_plan(plan_dir).cells()
    by_cell = {v.cell: references.run(v) for v in views}
    assert by_cell["kreis"].ok
    assert any("keycloak-initial-admin" in f.message for f in by_cell["stadt-guetersloh"].failures)


def test_a_cell_view_holds_only_its_own_stacks_objects(real_plan_dir):
    from urbanstack.checks import load_plan

    plan = load_plan(real_plan_dir)
    views = {v.cell: v for v in plan.cells()}
    assert {po.stack for po in views["stadt-guetersloh"].objects} == {"shared.stadt-guetersloh",
                                                                      "guetersloh.stadt-guetersloh"}
    assert views["stadt-guetersloh"].slug_of == {"guetersloh.stadt-guetersloh": "guetersloh"}
    assert set(views["kreis"].tenants) == {"rheda-wiedenbrueck", "rietberg", "verl"}
    assert len(plan.objects) == sum(len(v.objects) for v in views.values())
