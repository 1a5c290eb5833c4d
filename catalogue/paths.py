"""Where the project's own files are: the one definition of the repository root and the folders read from it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository (the folder with ``Pulumi.yaml``)."""
TENANTS = ROOT / "tenants"
"""The tenant files, one per municipality (``tenants/<slug>.yaml``)."""
STACKS = ROOT / "stacks"
"""The stacks' configuration files (``Pulumi.<stack>.yaml``)."""
PRICES = ROOT / "finance" / "prices.yaml"
PROVIDERS = ROOT / "finance" / "prices" / "providers"
"""The price catalogue (``catalogue/prices.py`` reads and validates it)."""
