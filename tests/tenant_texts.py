"""The smallest valid tenant file, as text: tests change one field of it and see what the loader says."""

from __future__ import annotations

TEMPLATE = """\
schemaVersion: 1
slug: {slug}
name: {name}
ags: "{ags}"
population: 21000
populationDate: 2023-12-31
costCenter: KST-1
contact:
  name: IT
  email: it@example.org
domain: {domain}
identity:
  admins: [admin@example.org]
"""


def tenant_text(slug: str = "halle", name: str = "Halle (Westf.)", ags: str = "05754012",
                domain: str = "halle.example.org") -> str:
    return TEMPLATE.format(slug=slug, name=name, ags=ags, domain=domain)
