"""The price catalogue (``finance/prices.yaml``) and the provider price lists (``finance/prices/providers/``).

``finance/prices.yaml`` is the operator's: unit prices, fixed platform costs (staff, support, reserve), the shared
part of each module, the allocation key. A provider file (``finance/prices/providers/<name>.yaml``) holds one cloud
provider's public list prices, each with its source, the date it was read and the price-list version;
:func:`with_provider` replaces only the catalogue's unit prices with them (``--provider NAME``).

One pydantic model describes each file, every field documented. :func:`load_prices` and :func:`load_provider`
report every problem as ``FILE:LINE: field.path: message`` (the same strict YAML loader as the tenant files: no
duplicate keys, no anchors), so a typo in a price never turns into a silently wrong statement. A number is read as
a German means it, or refused: ``5.200`` (5200 with a thousands point, or 5.2 with three decimals?) is refused
with both readings; so are ``5.200,00`` and ``1.400.000`` (:func:`german_number_problems`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from catalogue.labels import PLATFORM_MODULES
from catalogue.modules import CATALOGUE, module_label
from catalogue.paths import PRICES, PROVIDERS
from catalogue.yamlsafe import LoadedYaml, Problem, YamlError, load_yaml

DEFAULT_PRICES = PRICES

KEYS = ("equal", "population", "usage", "hybrid")
"""Allocation keys: how shared, untagged and idle costs are split (docs/finance.md)."""

SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
)
"""FOCUS ServiceCategory values."""

Money = Decimal
"""Amounts are Decimals, never floats: a statement must add up to the cent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _amount(description: str) -> object:
    return Field(ge=0, max_digits=14, decimal_places=4, description=description)


class UnitPrices(_Strict):
    """Prices per unit and month, used by the `estimate` source."""

    vcpuMonth: Money = _amount("Price of one vCPU (1000m of CPU request) for one month.")
    ramGibMonth: Money = _amount("Price of one GiB of memory request for one month.")
    blockStorageGibMonth: Money = _amount("Price of one GiB of persistent volume for one month.")
    objectStorageGibMonth: Money = _amount("Price of one GiB of object storage (bucket quota) for one month.")


class FixedCost(_Strict):
    """A fixed monthly cost of the platform that no municipality causes alone."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$", description="Short identifier (`operations`).")
    name: str = Field(min_length=1, max_length=120, description="Name printed on German statements.")
    nameEn: str | None = Field(None, min_length=1, max_length=120,
                               description="Name printed on English statements; omitted = `name`.")
    monthly: Money = _amount("Amount per month.")
    serviceCategory: Literal[SERVICE_CATEGORIES] = Field(  # type: ignore[valid-type]
        "Management and Governance", description="FOCUS ServiceCategory of this cost."
    )
    scope: Literal["cell", "cooperation"] = Field(
        "cell", description="`cell`: every cell (cluster) incurs it once, split among that cell's members (a control "
                            "plane, spare capacity); `cooperation`: incurred once for all cells, split among all "
                            "members (operations staff, support contracts). Decision record 0015.")


class Platform(_Strict):
    """Costs of the shared platform, split among all municipalities by the base key."""

    fixed: list[FixedCost] = Field(
        default_factory=list,
        description="Fixed monthly costs: operations, support contracts, control plane, spare capacity, ...",
    )
    modules: dict[str, Money] = Field(
        default_factory=dict,
        description="Monthly cost of each shared platform component (label `urban-stack/module` of shared objects), "
                    "per cell: every cell runs its own platform stack.",
    )

    @field_validator("fixed")
    @classmethod
    def _unique_ids(cls, v: list[FixedCost]) -> list[FixedCost]:
        ids = [f.id for f in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"fixed cost id(s) used twice: {', '.join(dupes)}")
        return v

    @field_validator("modules")
    @classmethod
    def _known_platform_modules(cls, v: dict[str, Money]) -> dict[str, Money]:
        unknown = sorted(set(v) - set(PLATFORM_MODULES))
        if unknown:
            raise ValueError(f"unknown platform component(s) {', '.join(unknown)}; known: {', '.join(PLATFORM_MODULES)}")
        for name, amount in v.items():
            if amount < 0:
                raise ValueError(f"{name}: amount must not be negative")
        return v


def module_keys() -> list[str]:
    """Bookable modules as the price catalogue writes them: the tenant-file keys (``urbanData``), one spelling."""
    return list(CATALOGUE)


class ModulePrice(_Strict):
    """The shared part of a bookable module's cost."""

    sharedMonthly: Money = _amount(
        "Monthly shared cost of the module (maintenance, updates, shared add-ons); with the `hybrid` key it is "
        "split only among the municipalities that booked the module."
    )


class Hybrid(_Strict):
    """Settings of the `hybrid` key."""

    base: Literal["equal", "population"] = Field(
        "population",
        description="How the platform base (fixed costs, platform components, untagged and idle costs) is split.",
    )
    modules: Literal["equal", "population"] = Field(
        "equal", description="How a module's shared cost is split among the municipalities that booked it."
    )


class AllocationConfig(_Strict):
    """The allocation key printed on every statement."""

    key: Literal[KEYS] = Field("hybrid", description="`equal`, `population`, `usage` or `hybrid`.")  # type: ignore[valid-type]
    hybrid: Hybrid = Field(default_factory=Hybrid, description="Settings of the `hybrid` key.")


class PriceCatalogue(_Strict):
    """`finance/prices.yaml`: prices and fixed costs of the platform, and the allocation key."""

    schemaVersion: Literal[1] = Field(description="Version of this file format. Always `1`.")
    example: bool = Field(
        description="`true` while the amounts are examples; every statement then says so. Set `false` for real prices."
    )
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of every amount.")
    unitPrices: UnitPrices = Field(description="Unit prices per month (the `estimate` source).")
    platform: Platform = Field(default_factory=Platform, description="Fixed costs of the shared platform.")
    modules: dict[str, ModulePrice] = Field(
        default_factory=dict,
        description="Shared part of each bookable module, by its key as in the tenant files (`dashboards`, "
        "`lowCode`, `openData`, `urbanData`, `masterportal`, `rei3`).",
    )
    allocation: AllocationConfig = Field(default_factory=AllocationConfig, description="The allocation key.")
    _provider: ProviderPrices | None = PrivateAttr(None)

    @field_validator("modules")
    @classmethod
    def _known_modules(cls, v: dict[str, ModulePrice]) -> dict[str, ModulePrice]:
        keys = module_keys()
        for name in v:
            if name in keys:
                continue
            near = [k for k in keys if k.lower() == name.lower()] or difflib.get_close_matches(name, keys, n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise ValueError(f"unknown module {name!r}{hint} (modules are written as in the tenant files: "
                             f"{', '.join(keys)})")
        return v

    @property
    def provider(self) -> ProviderPrices | None:
        """The provider price list whose unit prices replaced the catalogue's (``--provider``), or None."""
        return self._provider

    def module_prices(self) -> dict[str, ModulePrice]:
        """Shared module prices by label value (``urbandata``): the name the allocation and statements use."""
        return {module_label(k) or k: v for k, v in self.modules.items()}

    def module_shared(self, module: str) -> Money:
        """The shared monthly part of ``module`` (tenant-file key or label value)."""
        price = self.module_prices().get(module_label(module) or module)
        return price.sharedMonthly if price else Decimal(0)


# -- provider price lists ------------------------------------------------------------------------------------

STALE_DAYS = 180
"""A price read longer ago than this is named in a warning on every report (docs/finance.md)."""


class PriceRow(_Strict):
    """One public list price, with where and when it was read."""

    amount: Money = _amount("Net price in EUR per unit (see `unit`).")
    unit: str = Field(min_length=1, max_length=60, description="What the amount buys (`vCPU-Monat`, `GiB-Monat`).")
    source: str = Field(pattern=r"^https://\S+$", description="Public source (URL) the price was read from.")
    read: dt.date = Field(description="Date the price was read from the source (YYYY-MM-DD).")
    version: str = Field(min_length=1, max_length=120,
                         description="Price-list version or the dataset snapshot the price comes from.")
    note: str | None = Field(None, max_length=600, description="How the price was derived; what it leaves out.")


class ProviderUnitPrices(_Strict):
    """The four unit prices a provider file supplies to the estimate; each replaces the catalogue's."""

    vcpuMonth: PriceRow = Field(description="One vCPU for a month (the VM size named in the note, split per vCPU).")
    ramGibMonth: PriceRow = Field(description="One GiB of memory for a month.")
    blockStorageGibMonth: PriceRow = Field(description="One GiB of block storage (persistent volume) for a month.")
    objectStorageGibMonth: PriceRow = Field(description="One GiB of object storage for a month.")


class ProviderServices(_Strict):
    """Further list prices of the provider: shown in offers and used by OpenCost, not in the unit prices."""

    egressGib: PriceRow = Field(description="One GiB of outbound traffic to the internet (beyond any free quota).")
    loadBalancerMonth: PriceRow = Field(description="One load balancer for a month.")
    kubernetesControlPlaneMonth: PriceRow | None = Field(
        None, description="Managed Kubernetes control plane for a month; omitted when the provider has none.")
    postgresqlMonth: PriceRow | None = Field(
        None, description="Smallest managed PostgreSQL offer suitable for the platform, per month; omitted when not "
        "offered or not read.")


class VmSize(_Strict):
    """A VM size the platform would use, as listed by the provider."""

    name: str = Field(min_length=1, max_length=60, description="Provider's name of the size (`g1a.4d`, `CCX23`).")
    vcpu: int = Field(ge=1, le=512, description="vCPUs.")
    ramGib: int = Field(ge=1, le=4096, description="Memory in GiB.")
    monthly: PriceRow = Field(description="Price per month.")


class Disagreement(_Strict):
    """Where the sources disagree on a price, and which value was taken and why."""

    field: str = Field(min_length=1, description="The price concerned (`unitPrices.objectStorageGibMonth`).")
    values: list[str] = Field(min_length=1, description="What each source says, with the source.")
    taken: str = Field(min_length=1, description="The value taken.")
    why: str = Field(min_length=1, description="Why that value.")


class ProviderPrices(_Strict):
    """`finance/prices/providers/<name>.yaml`: one provider's public list prices, net, EUR."""

    schemaVersion: Literal[1] = Field(description="Version of this file format. Always `1`.")
    provider: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$", description="Short name, the file's stem (`stackit`).")
    name: str = Field(min_length=1, max_length=80, description="Provider's name as printed (`STACKIT`).")
    currency: Literal["EUR"] = Field("EUR", description="Currency of every amount: EUR.")
    net: Literal[True] = Field(True, description="Every amount is net (without VAT): always `true`.")
    managedKubernetes: bool = Field(description="`false` when the provider offers no managed Kubernetes.")
    unitPrices: ProviderUnitPrices = Field(description="The unit prices that replace the catalogue's.")
    services: ProviderServices = Field(description="Further list prices (egress, load balancer, control plane, DB).")
    vmSizes: list[VmSize] = Field(default_factory=list, description="VM sizes the platform would use.")
    disagreements: list[Disagreement] = Field(default_factory=list,
                                              description="Where sources disagree, what was taken and why.")

    def rows(self) -> list[tuple[str, PriceRow]]:
        """Every price of the file with its field path."""
        out = [(f"unitPrices.{k}", getattr(self.unitPrices, k)) for k in ProviderUnitPrices.model_fields]
        out += [(f"services.{k}", getattr(self.services, k)) for k in ProviderServices.model_fields
                if getattr(self.services, k) is not None]
        out += [(f"vmSizes.{v.name}", v.monthly) for v in self.vmSizes]
        return out

    @property
    def oldest(self) -> dt.date:
        return min(r.read for _, r in self.rows())

    def stale(self, today: dt.date | None = None, days: int = STALE_DAYS) -> list[tuple[str, PriceRow]]:
        """Prices read more than ``days`` days before ``today``."""
        limit = (today or dt.date.today()) - dt.timedelta(days=days)
        return [(path, r) for path, r in self.rows() if r.read < limit]

    def stale_warning(self, today: dt.date | None = None, lang: str = "en", *, path: bool = True) -> str | None:
        """One line naming every price older than :data:`STALE_DAYS` days, or None. ``path``: name the file (for
        the screen); documents name the price list and each price in ``lang`` instead."""
        old = self.stale(today)
        if not old:
            return None
        by_date: dict[dt.date, list[str]] = {}
        for field_path, r in old:
            by_date.setdefault(r.read, []).append(field_path if path else price_name(field_path, lang))
        de = lang == "de"
        word = "gelesen" if de else "read"
        names = "; ".join(f"{word} {d.isoformat()}: {', '.join(paths)}" for d, paths in sorted(by_date.items()))
        what = f"{self.provider}.yaml" if path else self.name
        if de:
            return (f"Preisliste {what}: {len(old)} Preis(e) älter als {STALE_DAYS} Tage, vor Verwendung prüfen "
                    f"({names})")
        return f"price list {what}: {len(old)} price(s) older than {STALE_DAYS} days, check before use ({names})"

    def label(self, lang: str = "de", *, path: bool = False) -> str:
        """``STACKIT (Preisliste stackit, Preise gelesen 2026-05-20)``; with ``path`` the file instead of its name."""
        dates = sorted({r.read for _, r in self.rows()})
        to = "bis" if lang == "de" else "to"
        span = dates[0].isoformat() if len(dates) == 1 else f"{dates[0].isoformat()} {to} {dates[-1].isoformat()}"
        where = f"finance/prices/providers/{self.provider}.yaml" if path else (
            f"Preisliste {self.provider}" if lang == "de" else f"price list {self.provider}")
        return f"{self.name} ({where}, {'Preise gelesen' if lang == 'de' else 'prices read'} {span})"


PRICE_NAMES = {
    "unitPrices.vcpuMonth": ("vCPU", "vCPU"),
    "unitPrices.ramGibMonth": ("Arbeitsspeicher", "memory"),
    "unitPrices.blockStorageGibMonth": ("Blockspeicher", "block storage"),
    "unitPrices.objectStorageGibMonth": ("Objektspeicher", "object storage"),
    "services.egressGib": ("Datenverkehr ins Internet", "internet egress"),
    "services.loadBalancerMonth": ("Load Balancer", "load balancer"),
    "services.kubernetesControlPlaneMonth": ("Kubernetes-Steuerungsebene", "Kubernetes control plane"),
    "services.postgresqlMonth": ("PostgreSQL (verwaltet)", "managed PostgreSQL"),
}


def price_name(field_path: str, lang: str = "de") -> str:
    """A provider file's price in words (``unitPrices.vcpuMonth`` -> ``vCPU``, ``vmSizes.CCX23`` -> ``VM CCX23``)."""
    if field_path.startswith("vmSizes."):
        return f"VM {field_path.removeprefix('vmSizes.')}"
    de, en = PRICE_NAMES.get(field_path, (field_path, field_path))
    return de if lang == "de" else en


_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")
"""``5.200``: 5200 with a German thousands point, or 5.2 with three decimals."""
_GERMAN = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3}){2,}(,\d+)?$|^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$|^[+-]?\d+,\d+$")
"""``5.200,00``, ``1.400.000``, ``5,2``: German notation, never what YAML reads."""


def german_number_problems(doc: LoadedYaml, money_paths) -> list[Problem]:
    """Money values written so that a German and YAML would read them differently, as problems.

    ``money_paths(path)`` says whether a key path holds an amount. An amount is read as a German means it, or
    refused: ``5.200`` is refused with both readings (YAML reads 5.2); ``5.200,00`` or ``5,2`` are refused with how
    to write them."""
    problems = []
    for path, text in doc.texts.items():
        if not money_paths(path):
            continue
        raw = str(text).strip()
        where = ".".join(str(p) for p in path)
        if _AMBIGUOUS.match(raw):
            thousands, decimal = raw.replace(".", ""), raw.rstrip("0").rstrip(".")
            problems.append(Problem(doc.file, doc.line_of(path), where,
                                    f"{raw!r} is ambiguous: {thousands} (a point as thousands separator) or {decimal} "
                                    f"(a decimal point)? Write {thousands}.00 or {decimal} (a point only as decimal "
                                    f"separator, no thousands separators)"))
        elif _GERMAN.match(raw):
            value = raw.replace(".", "").replace(",", ".")
            problems.append(Problem(doc.file, doc.line_of(path), where,
                                    f"{raw!r} is written the German way; write {value} (a point only as decimal "
                                    f"separator, no thousands separators)"))
    return problems


def _catalogue_money(path: tuple) -> bool:
    if not path:
        return False
    if path[0] == "unitPrices" or (path[0] == "modules" and path[-1] == "sharedMonthly"):
        return True
    if path[0] == "platform":
        return (len(path) == 3 and path[1] == "modules") or (len(path) == 4 and path[-1] == "monthly")
    return False


def _provider_money(path: tuple) -> bool:
    return bool(path) and path[-1] == "amount"


class PriceError(Exception):
    """Invalid price catalogue; ``problems`` lists every one as ``FILE:LINE: field: message``."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _message(err: dict) -> str:
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling; docs/finance.md lists every field)"
    if err["type"] == "decimal_parsing" and "input" in err:
        return f"{err['input']!r} is not a number"
    return err["msg"].removeprefix("Value error, ")


def _validate(doc: LoadedYaml, model, money):
    if not isinstance(doc.data, dict):
        raise PriceError([Problem(doc.file, 1, "", "expected a mapping of fields")])
    problems = german_number_problems(doc, money)
    try:
        result = model.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        bad = {p.path for p in problems}
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            where = ".".join(str(p) for p in loc)
            if where not in bad:
                problems.append(Problem(doc.file, doc.line_of(loc), where, _message(err)))
        raise PriceError(problems) from None
    if problems:
        raise PriceError(problems)
    return result


def validate_prices(doc: LoadedYaml) -> PriceCatalogue:
    return _validate(doc, PriceCatalogue, _catalogue_money)


def validate_provider(doc: LoadedYaml, name: str | None = None) -> ProviderPrices:
    result = _validate(doc, ProviderPrices, _provider_money)
    if name and result.provider != name:
        raise PriceError([Problem(doc.file, doc.line_of(("provider",)), "provider",
                                  f"{result.provider!r} differs from the file name {name!r}")])
    return result


def provider_names(folder: Path = PROVIDERS) -> list[str]:
    """Provider files shipped in ``finance/prices/providers/`` (stems)."""
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def provider_path(name_or_path: str | Path) -> Path:
    """``stackit`` -> ``finance/prices/providers/stackit.yaml``; a path is taken as it is."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(text)
    return PROVIDERS / f"{text}.yaml"


def load_provider(name_or_path: str | Path) -> ProviderPrices:
    """Load and validate a provider price list by name (``stackit``) or path."""
    path = provider_path(name_or_path)
    if not path.exists() and path.parent == PROVIDERS:
        known = provider_names()
        near = difflib.get_close_matches(str(name_or_path), known, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise PriceError([Problem("--provider", None, "", f"no provider file {path}{hint} (known: {', '.join(known)})")])
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise PriceError(exc.problems) from None
    return validate_provider(doc, path.stem)


def with_provider(catalogue: PriceCatalogue, provider: ProviderPrices | None) -> PriceCatalogue:
    """The catalogue with its unit prices replaced by the provider's (everything else stays the operator's)."""
    if provider is None:
        return catalogue
    unit = UnitPrices(**{k: getattr(provider.unitPrices, k).amount for k in UnitPrices.model_fields})
    out = catalogue.model_copy(update={"unitPrices": unit})
    out._provider = provider
    return out


def load_prices(path: Path | str | None = None) -> PriceCatalogue:
    """Load and validate the price catalogue (default ``finance/prices.yaml``)."""
    try:
        doc = load_yaml(Path(path) if path else DEFAULT_PRICES)
    except YamlError as exc:
        raise PriceError(exc.problems) from None
    return validate_prices(doc)
