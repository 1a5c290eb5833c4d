"""A join is one tenant file and one `pulumi up` of the new municipality's stack (issue 21, decisions 0012, 0013).

The shared stack reads no tenant file: a municipality joining changes no object of it, and nothing bounds the
number of municipalities by a shared object. Back-channel ports are derived from the slug, or pinned in the tenant
file where the derived one is taken.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import yaml

from bench.synthetic import tenant_document, write_tenants
from catalogue import names
from catalogue.tenants import TenantError, free_backchannel_port, load_all, new_tenant
from components.tenant import gateway
from urbanstack.engine import stacks
from urbanstack.engine.plan import plan_shared


def _objects(plan) -> list[tuple[str, str]]:
    return sorted((r.urn, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources)


def test_the_shared_stack_takes_no_tenant_files():
    # its settings, its cell (how its cluster is reached) and its stack name; no municipality
    assert list(inspect.signature(stacks.shared_stack).parameters) == ["cfg", "cell", "stack"]


def test_the_whole_shared_stack_is_identical_with_3_and_with_4_municipalities():
    four = dict(sorted(load_all().items()))
    three = {slug: t for slug, t in four.items() if slug != sorted(four)[-1]}
    with_three, with_four = _objects(plan_shared(tenants=three)), _objects(plan_shared(tenants=four))
    assert len(with_four) > 100
    assert with_three == with_four


def test_the_whole_shared_stack_is_identical_with_400_synthetic_municipalities(tmp_path):
    write_tenants(tmp_path, 400)
    assert _objects(plan_shared(tenants=load_all([tmp_path]))) == _objects(plan_shared(tenants={}))


def test_400_synthetic_municipalities_get_400_distinct_back_channel_ports(tmp_path):
    write_tenants(tmp_path, 400)
    tenants = load_all([tmp_path])
    ports = {t.backchannel_port for t in tenants.values()}
    assert len(ports) == 400
    assert all(names.BACKCHANNEL_PORT_BASE <= p < names.BACKCHANNEL_PORT_BASE + names.BACKCHANNEL_PORT_SPAN
               for p in ports)
    pinned = [t for t in tenants.values() if t.backchannelPort is not None]
    assert pinned, "at 400 some derived ports collide (birthday bound), so some files pin theirs"
    assert all(t.backchannel_port == t.backchannelPort != names.backchannel_port(t.slug) for t in pinned)


def _write(folder: Path, doc: dict) -> Path:
    path = folder / f"{doc['slug']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _colliding_pair() -> tuple[dict, dict]:
    seen: dict[int, dict] = {}
    for i in range(1, 2000):
        doc = tenant_document(i, every_module=False)
        port = names.backchannel_port(doc["slug"])
        if port in seen:
            return seen[port], doc
        seen[port] = doc
    raise AssertionError("no collision among 2,000 slugs")


def test_two_municipalities_on_one_back_channel_port_are_refused_naming_both_files_and_a_free_port(tmp_path):
    first, second = _colliding_pair()
    _write(tmp_path, first)
    _write(tmp_path, second)
    with pytest.raises(TenantError) as err:
        load_all([tmp_path])
    text = str(err.value)
    port = names.backchannel_port(first["slug"])
    assert f"{first['slug']}.yaml" in text and f"{second['slug']}.yaml" in text
    assert f"backchannelPort to a free port, e.g. {free_backchannel_port({port}, port)}" in text


def test_a_pinned_back_channel_port_is_used_by_the_listener_the_service_the_policies_and_the_module_urls(tmp_path):
    first, second = _colliding_pair()
    second["backchannelPort"] = free_backchannel_port({names.backchannel_port(first["slug"])},
                                                      names.backchannel_port(second["slug"]))
    _write(tmp_path, first)
    _write(tmp_path, second)
    tenant = load_all([tmp_path])[second["slug"]]
    port = second["backchannelPort"]
    assert tenant.backchannel_port == port
    slug = tenant.slug
    spec = gateway.listener_set_spec(slug, "x.example", names.GATEWAY_NAME, names.NS_GATEWAY, True,
                                     port=tenant.backchannel_port)
    assert [lst["port"] for lst in spec["listeners"] if lst["name"] == names.LS_BACKCHANNEL] == [port]
    assert gateway.backchannel_service_spec(slug, tenant.backchannel_port)["ports"][0]["port"] == port
    assert gateway.backchannel_ingress(slug, tenant.backchannel_port)[0]["ports"][0]["port"] == port
    assert names.backchannel_base_url(slug, tenant.backchannel_port).endswith(f":{port}")


def test_tenants_new_pins_a_free_port_when_the_derived_one_is_taken_and_never_otherwise(tmp_path):
    first, second = _colliding_pair()
    _write(tmp_path, first)
    written = new_tenant(tmp_path, second["slug"], name="Neue Kommune", ags="05999999", population=1000,
                         domain="neu.example")
    text = written.read_text(encoding="utf-8")
    assert "backchannelPort:" in text and f"{first['slug']}.yaml" in text
    tenants = load_all([tmp_path])
    assert tenants[second["slug"]].backchannel_port != tenants[first["slug"]].backchannel_port
    alone = tmp_path / "alone"
    alone.mkdir()
    assert "backchannelPort" not in new_tenant(alone, second["slug"], name="Neue Kommune", ags="05999999",
                                               population=1000, domain="neu.example").read_text(encoding="utf-8")
