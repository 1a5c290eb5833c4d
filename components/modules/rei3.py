"""rei3: REI3 low-code business applications."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.base import ModuleOptions, ModuleSpec
from components.sizing import Size, Workload


class Options(ModuleOptions):
    """Options of the `rei3` module."""

    language: Literal["de_de", "en_us"] = Field("de_de", description="Default language of the REI3 instance.")


SPEC = ModuleSpec(
    key="rei3",
    name="rei3",
    title="Business applications (REI3)",
    description="REI3 low-code business applications, data in the municipality's database.",
    options=Options,
    workloads={
        "app": Workload(Size(500, 1024), replicas={"small": 1, "medium": 1, "large": 1},
                        storage_gi={"small": 10, "medium": 25, "large": 50}),
    },
    databases=("rei3",),
)
