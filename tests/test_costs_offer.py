"""`urbanstack costs offer`: what a municipality that considers joining would pay, and what it would pay alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.prices import KEYS, load_prices, load_provider, provider_names, with_provider
from clikit.outdir import MARKER
from finance.allocate import allocate, to_cents
from finance.cli import app
from finance.model import FinanceError, Key, Period, load_members
from finance.offer import document, make_offer, prospective_member
from finance.report import fmt_money
from finance.sources.estimate import EstimateSource

runner = CliRunner()
MONTH = dt.date(2026, 10, 1)
HALLE = """schemaVersion: 1
slug: halle
name: Halle (Westf.)
ags: "05754012"
population: 21000
populationDate: 2023-12-31
memberSince: 2027-01-01
costCenter: HALLE-1100
contact:
  name: Fachbereich Zentrale Dienste
  email: it@halle.example
domain: urbanstack.halle.example
plan: small
modules:
  dashboards: {}
  openData: {}
identity:
  admins:
    - it@halle.example
"""


@pytest.fixture(scope="module")
def halle(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("new") / "halle.yaml"
    path.write_text(HALLE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def offer(halle):
    members = load_members()
    own = load_prices()
    return make_offer(halle, members, with_provider(own, load_provider("stackit")), own, Key(), MONTH)


def test_the_share_is_what_the_municipality_would_pay_in_a_full_month_of_membership_under_each_key(offer, halle):
    members = load_members()
    candidate = prospective_member(halle, members)
    after = {**members, "halle": candidate}
    assert set(offer.by_key) == set(KEYS)
    for name in KEYS:
        a = allocate(EstimateSource(after, offer.catalogue), after, Key(name), Period(MONTH, MONTH))
        assert offer.by_key[name] == a.total_cents("halle") > 0


def test_a_memberSince_in_the_future_does_not_make_the_offer_zero(offer):
    assert offer.candidate.since is None and offer.share > 0


def test_everyone_elses_change_is_listed_and_the_consortium_total_grows_by_the_newcomers_own_resources(offer):
    assert {m.slug for m, _, _ in offer.members} == set(load_members())
    assert all(after < before for _, before, after in offer.members)  # the base is shared by one more
    before = sum(b for _, b, _ in offer.members)
    after = sum(a for _, _, a in offer.members) + offer.share
    own = to_cents(EstimateSource({"halle": offer.candidate}, offer.catalogue).direct_monthly("halle"))
    assert abs((after - before) - own) <= 1


def test_standalone_is_compared_for_every_provider_file_and_the_operators_catalogue(offer):
    assert [p.provider for p in offer.providers] == ["", *provider_names()]
    for p in offer.providers:
        assert p.standalone > p.share > 0
        if p.provider:
            assert p.read
    assert offer.chosen.provider == "stackit" and offer.chosen.share == offer.share


def test_page_one_of_the_offer_holds_the_monthly_amount_per_inhabitant_the_standalone_comparison_and_sources(offer):
    doc = document(offer, "de", "Urban Stack Betrieb", today=dt.date(2026, 12, 6))
    meta = dict(doc.meta)
    assert meta["Monatlicher Anteil"].startswith(fmt_money(offer.share, "de"))
    assert "je Einwohner und Jahr" in meta["Monatlicher Anteil"] and "Allein betrieben" in meta
    assert "gelesen 20.05.2026" in meta["Preise"] and meta["Stand"] == "6. Dezember 2026"
    assert meta["Ausgestellt am"] == "6. Dezember 2026"
    summary = doc.tables[0]
    assert summary.title == "Auf einen Blick" and [r[0] for r in summary.rows][:2] == [
        "Anteil im Verbund (STACKIT)", "Allein betrieben (STACKIT)"]
    assert any("Annahmen" in n for n in doc.notes) and any("älter als 180 Tage" in n for n in doc.notes)
    assert doc.data["document"] == "offer" and doc.data["totalCents"] == offer.share


def test_costs_offer_writes_german_pdf_html_and_csv_into_its_own_folder(halle, tmp_path):
    out = tmp_path / "offer"
    result = runner.invoke(app, ["offer", "--tenant", str(halle), "--period", "2026-10", "--provider", "ionos",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"angebot-halle.pdf", "angebot-halle.html", "angebot-halle.csv", "angebot-halle-schluessel.csv",
            "angebot-halle-mitglieder.csv", MARKER} <= names
    assert (out / "angebot-halle.pdf").read_bytes().startswith(b"%PDF")
    html = (out / "angebot-halle.html").read_text(encoding="utf-8")
    assert "Angebot zur Mitgliedschaft" in html and "IONOS Cloud" in html and "je Einwohner und Jahr" in html
    rows = list(csv.reader(io.StringIO((out / "angebot-halle.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    providers = [r[0] for r in rows[rows.index([]) + 2:]]
    assert {"Hetzner Cloud", "IONOS Cloud", "plusserver", "STACKIT"} <= set(providers)


def test_an_offer_for_a_municipality_that_is_already_a_member_is_refused_with_the_way_out(tmp_path):
    with pytest.raises(FinanceError, match=r"already a member.*--tenants"):
        prospective_member(Path("tenants/verl.yaml"), load_members())


def test_costs_offer_refuses_a_folder_it_did_not_write(halle, tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["offer", "--tenant", str(halle), "--out", str(tmp_path)])
    assert result.exit_code == 1 and (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_the_offer_in_english_on_request(offer):
    doc = document(offer, "en", "x", today=dt.date(2026, 12, 6))
    assert doc.title.startswith("Membership offer") and "Monthly share" in dict(doc.meta)
    assert json.dumps(doc.data)  # the JSON form is serialisable
