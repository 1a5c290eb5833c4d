"""The price catalogue (``finance/prices.yaml``): unit prices, fixed platform costs, the allocation key.

One pydantic model describes the file, every field documented. :func:`load_prices` reports every problem as
``FILE:LINE: field.path: message`` (the same strict YAML loader as the tenant files: no duplicate keys, no
anchors), so a typo in a price never turns into a silently wrong statement.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalogue.labels import PLATFORM_MODULES
from catalogue.modules import module_names
from catalogue.paths import PRICES
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


class Platform(_Strict):
    """Costs of the shared platform, split among all municipalities by the base key."""

    fixed: list[FixedCost] = Field(
        default_factory=list,
        description="Fixed monthly costs: operations, support contracts, control plane, spare capacity, ...",
    )
    modules: dict[str, Money] = Field(
        default_factory=dict,
        description="Monthly cost of each shared platform component (label `urban-stack/module` of shared objects).",
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
        default_factory=dict, description="Shared part of each bookable module, by module name (`dashboards`)."
    )
    allocation: AllocationConfig = Field(default_factory=AllocationConfig, description="The allocation key.")

    @field_validator("modules")
    @classmethod
    def _known_modules(cls, v: dict[str, ModulePrice]) -> dict[str, ModulePrice]:
        unknown = sorted(set(v) - module_names())
        if unknown:
            raise ValueError(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(sorted(module_names()))}")
        return v

    def module_shared(self, module: str) -> Money:
        price = self.modules.get(module)
        return price.sharedMonthly if price else Decimal(0)


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


def validate_prices(doc: LoadedYaml) -> PriceCatalogue:
    if not isinstance(doc.data, dict):
        raise PriceError([Problem(doc.file, 1, "", "expected a mapping of fields")])
    try:
        return PriceCatalogue.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            problems.append(Problem(doc.file, doc.line_of(loc), ".".join(str(p) for p in loc), _message(err)))
        raise PriceError(problems) from None


def load_prices(path: Path | str | None = None) -> PriceCatalogue:
    """Load and validate the price catalogue (default ``finance/prices.yaml``)."""
    try:
        doc = load_yaml(Path(path) if path else DEFAULT_PRICES)
    except YamlError as exc:
        raise PriceError(exc.problems) from None
    return validate_prices(doc)
