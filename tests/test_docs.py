"""Generated docs and the editor JSON Schema match the code."""

from urbanstack.docs import generated, stale


def test_generated_docs_are_up_to_date():
    assert stale() == [], "run `make docs` (urbanstack docs write) and commit the result"


def test_every_tenant_file_field_has_a_description():
    from catalogue.schema import Tenant

    schema = Tenant.model_json_schema()
    missing = []
    for name, obj in [("Tenant", schema), *schema.get("$defs", {}).items()]:
        for field, prop in obj.get("properties", {}).items():
            if not prop.get("description"):
                missing.append(f"{name}.{field}")
    assert missing == []


def test_the_tenant_reference_lists_every_module():
    from catalogue.modules import CATALOGUE

    doc = next(c for p, c in generated().items() if p.name == "tenant-file.md")
    for key in CATALOGUE:
        assert f"`{key}`" in doc
