"""Provider price lists, German numbers in price files, one module spelling, one price source for OpenCost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.paths import PRICES, PROVIDERS
from catalogue.prices import (
    STALE_DAYS,
    PriceError,
    load_prices,
    load_provider,
    provider_names,
    with_provider,
)
from finance.cli import app
from finance.model import Key, load_members, parse_period
from finance.sources.estimate import EstimateSource

runner = CliRunner()
PROVIDERS_SHIPPED = ("hetzner", "ionos", "plusserver", "stackit")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- provider files --------------------------------------------------------------------------------------------


def test_four_provider_files_ship_and_every_price_names_its_public_source_date_and_version():
    assert set(PROVIDERS_SHIPPED) <= set(provider_names())
    for name in PROVIDERS_SHIPPED:
        provider = load_provider(name)
        assert provider.provider == name and provider.currency == "EUR" and provider.net is True
        rows = provider.rows()
        assert len(rows) >= 6
        for path, row in rows:
            assert row.source.startswith("https://"), (name, path)
            assert row.read <= dt.date(2026, 12, 6), (name, path)
            assert row.version.strip(), (name, path)


def test_the_managed_kubernetes_control_plane_is_priced_where_offered_and_absent_for_hetzner():
    for name in ("stackit", "ionos", "plusserver"):
        assert load_provider(name).services.kubernetesControlPlaneMonth is not None
    hetzner = load_provider("hetzner")
    assert hetzner.managedKubernetes is False and hetzner.services.kubernetesControlPlaneMonth is None


def test_where_sources_disagree_the_file_records_every_value_what_was_taken_and_why():
    stackit = {d.field: d for d in load_provider("stackit").disagreements}
    assert "unitPrices.objectStorageGibMonth" in stackit
    ccx23 = {d.field: d for d in load_provider("hetzner").disagreements}["vmSizes.CCX23"]
    assert len(ccx23.values) >= 2 and "102.92" in ccx23.taken and ccx23.why


def test_a_provider_file_replaces_only_the_unit_prices_the_operators_own_catalogue_stays():
    own = load_prices()
    stackit = load_provider("stackit")
    mixed = with_provider(own, stackit)
    assert mixed.unitPrices.vcpuMonth == stackit.unitPrices.vcpuMonth.amount
    assert mixed.unitPrices.objectStorageGibMonth == stackit.unitPrices.objectStorageGibMonth.amount
    assert mixed.platform == own.platform and mixed.modules == own.modules and mixed.allocation == own.allocation
    assert mixed.provider is stackit and own.provider is None


def test_a_provider_file_changes_the_estimate_by_exactly_its_unit_prices():
    members = load_members()
    own = load_prices()
    hetzner = with_provider(own, load_provider("hetzner"))
    slug = sorted(members)[0]
    a, b = EstimateSource(members, own), EstimateSource(members, hetzner)
    assert a.platform_base() == b.platform_base()
    assert a.direct_monthly(slug) != b.direct_monthly(slug)


def test_a_price_older_than_180_days_is_named_in_a_warning_and_a_fresh_one_is_not():
    stackit = load_provider("stackit")
    read = stackit.oldest
    fresh = read + dt.timedelta(days=STALE_DAYS)
    stale = read + dt.timedelta(days=STALE_DAYS + 1)
    assert stackit.stale_warning(fresh) is None
    warning = stackit.stale_warning(stale)
    assert "stackit.yaml" in warning and "unitPrices.vcpuMonth" in warning and read.isoformat() in warning


def test_an_invalid_provider_file_is_refused_naming_file_line_and_field(tmp_path):
    text = (PROVIDERS / "ionos.yaml").read_text(encoding="utf-8")
    text = text.replace("source: https://cloud.ionos.de/managed-kubernetes\n", "source: cloud.ionos.de\n", 1)
    path = _write(tmp_path, "ionos.yaml", text)
    with pytest.raises(PriceError) as exc:
        load_provider(path)
    problem = exc.value.problems[0]
    assert problem.file == str(path) and problem.path == "unitPrices.vcpuMonth.source" and problem.line


def test_an_unknown_provider_is_refused_with_a_suggestion():
    with pytest.raises(PriceError, match="did you mean stackit"):
        load_provider("stakit")


def test_costs_report_accepts_provider_and_the_statement_says_which_prices_and_dates_it_used(tmp_path):
    result = runner.invoke(app, ["report", "--period", "2026-10", "--provider", "hetzner", "--format", "json",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads((tmp_path / "out" / f"statement-{sorted(load_members())[0]}.json").read_text(encoding="utf-8"))
    assert doc["prices"]["provider"] == "hetzner" and doc["prices"]["file"] == "finance/prices/providers/hetzner.yaml"
    assert doc["prices"]["read"] == ["2026-08-17"]
    assert "Hetzner Cloud" in result.output


def test_costs_simulate_accepts_provider_and_names_the_prices(tmp_path):
    result = runner.invoke(app, ["simulate", "--remove", sorted(load_members())[0], "--period", "2026-10",
                                 "--provider", "plusserver", "--out", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    assert "plusserver.yaml" in result.output


def test_every_report_with_stale_prices_warns(tmp_path):
    result = runner.invoke(app, ["report", "--period", "2026-10", "--provider", "stackit", "--format", "json",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "warning: price list stackit.yaml" in result.output


# -- German numbers in price files -----------------------------------------------------------------------------


def test_an_ambiguous_amount_like_5_200_is_refused_with_both_readings_file_line_and_field(tmp_path):
    text = PRICES.read_text(encoding="utf-8").replace("monthly: 5200.00", "monthly: 5.200")
    path = _write(tmp_path, "prices.yaml", text)
    with pytest.raises(PriceError) as exc:
        load_prices(path)
    [problem] = exc.value.problems
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "monthly: 5.200" in ln)
    assert (problem.file, problem.line, problem.path) == (str(path), line, "platform.fixed.0.monthly")
    assert "5200" in problem.message and "5.2" in problem.message


def test_german_notation_with_a_decimal_comma_or_several_thousands_points_is_refused_with_the_right_spelling(tmp_path):
    for written, right in (("5.200,00", "5200.00"), ("1.400.000", "1400000"), ("3,20", "3.20")):
        text = PRICES.read_text(encoding="utf-8").replace("ramGibMonth: 3.20", f"ramGibMonth: {written}")
        with pytest.raises(PriceError) as exc:
            load_prices(_write(tmp_path, "prices.yaml", text))
        [problem] = exc.value.problems
        assert problem.path == "unitPrices.ramGibMonth" and right in problem.message, written


def test_unambiguous_decimals_are_read_as_written():
    prices = load_prices()
    assert prices.unitPrices.objectStorageGibMonth == Decimal("0.025")
    assert prices.platform.fixed[0].monthly == Decimal("5200.00")


def test_an_ambiguous_amount_in_a_provider_file_is_refused_too(tmp_path):
    text = (PROVIDERS / "plusserver.yaml").read_text(encoding="utf-8").replace("amount: 51.10", "amount: 51.100")
    with pytest.raises(PriceError) as exc:
        load_provider(_write(tmp_path, "plusserver.yaml", text))
    [problem] = exc.value.problems
    assert problem.path == "services.loadBalancerMonth.amount" and "51100" in problem.message


# -- one module spelling ---------------------------------------------------------------------------------------


def test_modules_in_the_price_file_are_spelled_as_in_the_tenant_files_and_the_label_spelling_gets_a_suggestion(tmp_path):
    text = PRICES.read_text(encoding="utf-8")
    assert "  urbanData:\n" in text and "  urbandata:\n" not in text
    path = _write(tmp_path, "prices.yaml", text.replace("  urbanData:\n", "  urbandata:\n"))
    with pytest.raises(PriceError) as exc:
        load_prices(path)
    [problem] = exc.value.problems
    assert problem.path == "modules" and "did you mean urbanData?" in problem.message


def test_a_modules_shared_price_is_found_under_either_name_the_code_uses():
    prices = load_prices()
    assert prices.module_shared("urbanData") == prices.module_shared("urbandata") == Decimal("210.00")


# -- one price source for OpenCost -----------------------------------------------------------------------------


def test_opencost_meters_with_the_chosen_providers_unit_prices_in_eur():
    from components.shared.monitoring import HOURS_PER_MONTH, opencost_cost_model

    model = opencost_cost_model("ionos")
    ionos = load_provider("ionos")
    assert model["currencyCode"] == "EUR"
    assert model["CPU"] == float(ionos.unitPrices.vcpuMonth.amount) / HOURS_PER_MONTH
    assert model["RAM"] == float(ionos.unitPrices.ramGibMonth.amount) / HOURS_PER_MONTH
    assert model["storage"] == float(ionos.unitPrices.blockStorageGibMonth.amount) / HOURS_PER_MONTH
    assert model["internetNetworkEgress"] == float(ionos.services.egressGib.amount)
    assert "finance/prices/providers/ionos.yaml" in model["description"]


def test_the_shared_config_refuses_an_unknown_price_provider():
    from catalogue.shared_config import SHARED_CONFIG, ConfigError, parse, stack_config

    raw = {k.split(":", 1)[1]: v for k, v in stack_config(SHARED_CONFIG).items()}
    raw["pricesProvider"] = "nowhere"
    with pytest.raises(ConfigError, match="pricesProvider: no price list 'nowhere'"):
        parse(raw)


def test_costs_without_provider_use_the_provider_opencost_meters_with(tmp_path):
    from catalogue.shared_config import SHARED_CONFIG, stack_config

    configured = stack_config(SHARED_CONFIG).get("urban-stack:pricesProvider")
    assert configured in PROVIDERS_SHIPPED
    result = runner.invoke(app, ["report", "--period", "2026-10", "--format", "json", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert f"finance/prices/providers/{configured}.yaml" in result.output


def test_the_estimate_with_provider_prices_still_reconciles_to_the_cent():
    members = load_members()
    mixed = with_provider(load_prices(), load_provider("stackit"))
    from finance.allocate import allocate

    a = allocate(EstimateSource(members, mixed), members, Key(), parse_period("2026-10"))
    assert a.input_cents == sum(a.total_cents(s) for s in members) + sum(ln.cents for ln in a.unallocated)


# -- FOCUS unit prices of the estimate -------------------------------------------------------------------------


def test_the_estimates_focus_list_and_contracted_unit_prices_come_from_the_chosen_provider_file(tmp_path):
    from finance import focus_export
    from finance.allocate import allocate
    from finance.focuscheck import validate

    members = load_members()
    ionos = load_provider("ionos")
    prices = with_provider(load_prices(), ionos)
    a = allocate(EstimateSource(members, prices), members, Key(), parse_period("2026-10"))
    rows = focus_export.rows(a, "Urban Stack Betrieb")
    expected = {"vCPU-Month": {ionos.unitPrices.vcpuMonth.amount},
                "GiB-Month": {ionos.unitPrices.ramGibMonth.amount, ionos.unitPrices.blockStorageGibMonth.amount,
                              ionos.unitPrices.objectStorageGibMonth.amount}}
    priced = [r for r in rows if r["PricingUnit"] in expected]
    assert {r["PricingUnit"] for r in priced} == set(expected)
    for r in priced:
        assert r["ListUnitPrice"] == r["ContractedUnitPrice"] and r["ListUnitPrice"] in expected[r["PricingUnit"]]
        assert r["ListCost"] == (r["PricingQuantity"] * r["ListUnitPrice"]).quantize(Decimal("1e-10"))
        assert abs(r["ListCost"] - r["BilledCost"]) < Decimal("0.01")
    assert sum(r["BilledCost"] for r in rows) * 100 == a.input_cents
    focus_export.write(a, "Urban Stack Betrieb", tmp_path)
    result = validate(tmp_path / "focus-allocation.parquet")
    assert result.ok, result.failed
