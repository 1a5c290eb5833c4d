"""Every pinned chart, manifest set and image records upstream's end of support with its source, and the
``support`` check fails on a pin past it on the day of the run (the day is injected here)."""

from __future__ import annotations

from datetime import date

import pytest

from catalogue import versions
from catalogue.versions import SUPPORT, Support, pinned_versions
from urbanstack.checks import CHECK_NAMES, checks
from urbanstack.checks.support import evaluate, findings

TODAY = date(2026, 12, 6)


def record(version: str = "1.0.0", ends: date | None = None, **kw) -> Support:
    return Support(version, ends, kw.pop("rule", "minor supported until the next"), "https://example.org/support",
                   kw.pop("says", "1.0: end of life 2026-03-09"), kw.pop("as_of", date(2026, 9, 1)), **kw)


def test_every_pin_has_a_support_record_made_for_exactly_that_version_with_its_source():
    pins = pinned_versions()
    assert set(SUPPORT) == set(pins)
    for key, pin in pins.items():
        entry = SUPPORT[key]
        assert entry.version == pin, f"SUPPORT[{key!r}] is for {entry.version}, the pin is {pin}"
        assert entry.source.startswith("https://") and entry.says.strip() and entry.rule.strip(), key
        assert entry.ends is not None or entry.review_by is not None, key


def test_the_keys_of_charts_manifests_and_images_do_not_collide():
    assert len(pinned_versions()) == len(versions.CHARTS) + len(versions.MANIFESTS) + len(versions.IMAGES)


def test_a_pin_past_its_end_of_support_fails_on_the_day_after_and_passes_on_the_last_day():
    pins, support = {"op": "1.0.0"}, {"op": record(ends=date(2026, 3, 9))}
    assert evaluate(pins, support, date(2026, 3, 9)).failures == []
    [failure] = evaluate(pins, support, date(2026, 3, 10)).failures
    assert failure.file == "catalogue/versions.py"
    assert "op 1.0.0: past upstream's end of support since 2026-03-09" in failure.message
    assert "https://example.org/support" in failure.message


def test_cloudnative_pg_1_27_would_fail_today_and_the_pinned_release_passes():
    old = {"cloudnative-pg": "0.26.1"}
    old_record = {"cloudnative-pg": record("0.26.1", date(2026, 3, 9), says="1.27.x: end of life March 9, 2026")}
    [failure] = evaluate(old, old_record, TODAY).failures
    assert "since 2026-03-09" in failure.message
    current = {"cloudnative-pg": versions.CHARTS["cloudnative-pg"].version}
    assert evaluate(current, {"cloudnative-pg": SUPPORT["cloudnative-pg"]}, TODAY).failures == []


def test_a_record_made_for_another_version_fails_so_a_bump_needs_a_new_record():
    [failure] = evaluate({"op": "1.1.0"}, {"op": record("1.0.0", date(2030, 1, 1))}, TODAY).failures
    assert "the support record was made for 1.0.0" in failure.message and "op 1.1.0" in failure.message


def test_a_pin_without_a_record_and_a_record_without_a_pin_both_fail():
    messages = [f.message for f in findings({"a": "1"}, {"b": record("2")}, TODAY)]
    assert any("a 1: no support record" in m for m in messages)
    assert any("SUPPORT['b'] names no pinned" in m for m in messages)


def test_a_rolling_release_replaced_by_a_newer_one_fails():
    [failure] = evaluate({"img": "4.1.10"}, {"img": record("4.1.10", newer="4.1.15")}, TODAY).failures
    assert "4.1.15 replaces it" in failure.message


def test_an_open_record_must_be_re_read_by_its_review_date():
    support = {"op": record(as_of=date(2026, 9, 22), review_by=date(2026, 12, 21))}
    assert evaluate({"op": "1.0.0"}, support, date(2026, 12, 21)).failures == []
    [failure] = evaluate({"op": "1.0.0"}, support, date(2026, 12, 22)).failures
    assert "due to be re-read by 2026-12-21" in failure.message
    default = record(as_of=date(2026, 1, 1))
    assert (default.review_by - default.as_of).days == versions.REVIEW_INTERVAL_DAYS


def test_a_waiver_reports_the_pin_until_its_date_and_then_fails():
    support = {"gw": record(ends=date(2026, 2, 13), waiver="moved by issue 99", waiver_until=date(2026, 12, 20))}
    result = evaluate({"gw": "1.0.0"}, support, TODAY)
    assert result.failures == []
    assert "1 waived" in result.figure() and "moved by issue 99" in result.figure()
    assert len(evaluate({"gw": "1.0.0"}, support, date(2026, 12, 21)).failures) == 1
    with pytest.raises(ValueError, match="waiver needs waiver_until"):
        record(waiver="someone")


def test_support_ending_soon_is_named_in_the_figure():
    result = evaluate({"op": "1.0.0"}, {"op": record(ends=date(2027, 1, 10))}, TODAY)
    assert result.failures == [] and "support ends within 60 days: op 1.0.0 (2027-01-10)" in result.figure()


def test_the_support_check_is_registered_with_the_others():
    assert "support" in CHECK_NAMES and set(checks()) == set(CHECK_NAMES)


def test_every_image_tag_is_traced_to_the_upstream_record_it_was_read_from():
    assert set(versions.RELEASE_RECORDS) == set(versions.IMAGES)
    for key, image in versions.IMAGES.items():
        record = versions.RELEASE_RECORDS[key]
        version = image.tag.split("-")[0].lstrip("v")
        assert image.tag in record or version in record, f"{key}: the record names neither the tag nor its release"
