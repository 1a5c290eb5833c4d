"""Check: every pinned chart, manifest set and image is inside its upstream support window on the day of the run.

The versions the plan installs are pinned in ``catalogue/versions.py`` (``CHARTS``, ``MANIFESTS``, ``IMAGES``);
``SUPPORT`` there records, per pin, upstream's end of support with the record it was read from. A pin fails when

* it has no record, or the record was made for another version (bumped without re-reading upstream);
* the day of the run is past the record's end of support (``ends``);
* the record names a newer release that replaces it under upstream's rule (only the newest is supported);
* the record has no end date and is older than its ``review_by`` date (nobody re-read upstream in time).

A dated waiver (``Support.waiver``: who moves the pin, ``waiver_until``) turns such a failure into a reported line
until that day. Pins whose support ends within :data:`WARN_DAYS` days are named in the figure. The day is
``date.today()`` unless the caller (a test) passes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from catalogue import versions
from catalogue.versions import Support
from urbanstack.checks.base import CheckResult, Failure, Plan

NAME = "supported releases"
SOURCE = "catalogue/versions.py"
WARN_DAYS = 60


@dataclass(frozen=True)
class Finding:
    """One pin outside its support window: ``waived`` when a dated waiver covers it today."""

    key: str
    message: str
    waived: bool = False


def _problem(key: str, pin: str, record: Support | None, today: date) -> str | None:
    if record is None:
        return (f"{key} {pin}: no support record (SUPPORT[{key!r}]): read upstream's support policy or release "
                "notes and record the end of support with its source")
    if record.version != pin:
        return (f"{key} {pin}: the support record was made for {record.version}; re-read {record.source} for {pin} "
                "and update SUPPORT with the version")
    if record.ends is not None and today > record.ends:
        return f"{key} {pin}: past upstream's end of support since {record.ends.isoformat()} ({record.source}: {record.says})"
    if record.ends is None and record.newer:
        return (f"{key} {pin}: upstream supports only the newest release ({record.rule}); {record.newer} replaces "
                f"it ({record.source}, as of {record.as_of.isoformat()})")
    if record.ends is None and record.review_by is not None and today > record.review_by:
        return (f"{key} {pin}: the support record is as of {record.as_of.isoformat()} and was due to be re-read by "
                f"{record.review_by.isoformat()} ({record.rule}); re-read {record.source}")
    return None


def findings(pins: Mapping[str, str], support: Mapping[str, Support], today: date) -> list[Finding]:
    """Every pin outside its window on ``today`` (waived ones flagged), and every record without a pin."""
    out = []
    for key, pin in pins.items():
        record = support.get(key)
        message = _problem(key, pin, record, today)
        if message is None:
            continue
        waived = bool(record and record.version == pin and record.waiver and record.waiver_until
                      and today <= record.waiver_until)
        if waived and record is not None and record.waiver_until is not None:
            message += f"; waived until {record.waiver_until.isoformat()}: {record.waiver}"
        out.append(Finding(key, message, waived))
    for key in support:
        if key not in pins:
            out.append(Finding(key, f"SUPPORT[{key!r}] names no pinned chart, manifest set or image: remove it"))
    return out


def ending_soon(pins: Mapping[str, str], support: Mapping[str, Support], today: date) -> list[str]:
    """Pins whose dated end of support lies within :data:`WARN_DAYS` days."""
    return sorted(f"{key} {pins[key]} ({record.ends.isoformat()})" for key, record in support.items()
                  if key in pins and record.ends is not None and 0 <= (record.ends - today).days <= WARN_DAYS)


def evaluate(pins: Mapping[str, str], support: Mapping[str, Support], today: date) -> CheckResult:
    found = findings(pins, support, today)
    failures = [Failure(SOURCE, "supported release", f.message) for f in found if not f.waived]
    waived = [f.message for f in found if f.waived]
    soon = ending_soon(pins, support, today)
    detail = f"on {today.isoformat()}; {len(waived)} waived" + (f": {'; '.join(waived)}" if waived else "")
    if soon:
        detail += f"; support ends within {WARN_DAYS} days: {', '.join(soon)}"
    chart_keys = set(versions.CHARTS) | set(versions.MANIFESTS)
    origins = {"ours": sum(1 for k in pins if k not in chart_keys), "chart": sum(1 for k in pins if k in chart_keys),
               "operator": 0}
    return CheckResult(NAME, len(pins), "pins", failures, detail=detail, origins=origins, origin_unit="pins")


def run(plan: Plan, today: date | None = None) -> CheckResult:
    """The pins of ``catalogue/versions.py`` (what the plan installs) against ``SUPPORT`` on ``today``."""
    del plan  # the pins are the plan's versions; the plan files add nothing to check here
    return evaluate(versions.pinned_versions(), versions.SUPPORT, today or date.today())
