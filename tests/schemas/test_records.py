"""The data standard's models against the lake contract (../shared/contracts/lake.md)."""

from __future__ import annotations

import pytest

from schemas.records import TABLES, table
from schemas.standard import SECURITY_ORDER, field_standard

# lake.md's public interface: users and checks rely on these names. Copied from the
# contract on purpose, so that renaming a column in a model fails here first.
CONTRACT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "core.person": (
        ("id_number",),
        (
            "person_key",
            "id_number",
            "name",
            "sex_code",
            "birth_date",
            "ethnicity_code",
            "hukou_region_code",
            "hukou_address",
            "residence_region_code",
            "residence_street_code",
            "residence_address",
            "population_type",
            "phone",
            "is_deceased",
            "source_updated_at",
        ),
    ),
    "core.legal_entity": (
        ("uscc",),
        (
            "name",
            "entity_type",
            "legal_rep_name",
            "industry_code",
            "industry_section",
            "registered_capital",
            "capital_currency",
            "established_date",
            "status",
            "region_code",
            "address",
        ),
    ),
    "core.area": (("area_code",), ("name", "level", "parent_code", "geometry")),
    "core.address_point": (
        ("address_code",),
        ("address", "lon", "lat", "source_crs", "region_code", "street_code", "grid_code", "h3_r9"),
    ),
    "core.credit_penalty": (
        ("decision_no", "authority_code"),
        (
            "subject_name",
            "subject_category",
            "subject_code",
            "penalty_types",
            "fine_amount",
            "decision_date",
            "publish_until",
        ),
    ),
    "core.credit_permit": (
        ("decision_no", "authority_code"),
        ("subject_name", "subject_code", "permit_name", "valid_from", "valid_to"),
    ),
    "core.credit_list": (
        ("subject_code", "list_type", "listed_at"),
        ("subject_name", "list_type", "expires_at", "removed_at"),
    ),
    "core.licence": (
        ("certificate_id",),
        (
            "licence_type_code",
            "licence_name",
            "licence_number",
            "holder_name",
            "holder_code",
            "holder_code_type",
            "issuer_code",
            "issue_date",
            "valid_from",
            "valid_to",
            "is_perpetual",
            "status",
            "region_code",
        ),
    ),
    "meta.batches": (
        ("batch_id",),
        (
            "batch_id",
            "feed",
            "source",
            "rows_in",
            "rows_loaded",
            "rows_quarantined",
            "rows_duplicate",
            "status",
            "started_at",
            "finished_at",
        ),
    ),
    "meta.quarantine": (
        (),
        (
            "feed",
            "batch_id",
            "source",
            "source_row",
            "raw_record",
            "reasons",
            "quarantined_at",
            "resolved_at",
        ),
    ),
    "meta.query_audit": (
        (),
        (
            "at",
            "principal",
            "role",
            "sql",
            "tables",
            "sensitive_columns",
            "rows_returned",
            "allowed",
            "reason",
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_tables_have_their_key_and_columns(name: str) -> None:
    model = table(name)
    key, columns = CONTRACT[name]
    if key:
        assert model.__business_key__ == key
    missing = [c for c in (*key, *columns) if c not in model.model_fields]
    assert not missing, f"{name} lacks contract columns {missing}"


def test_table_names_are_unique_and_zoned() -> None:
    names = [m.__table__ for m in TABLES]
    assert len(names) == len(set(names))
    assert all(n.split(".")[0] in {"core", "mart", "meta"} for n in names)
    # Core tables carry provenance and history; meta tables are the lake's own books.
    assert all(m.__history__ == m.__table__.startswith("core.") for m in TABLES)


@pytest.mark.parametrize("model", TABLES, ids=lambda m: m.__table__)
def test_every_field_is_declared_with_the_standard(model) -> None:
    for name, info in model.model_fields.items():
        meta = field_standard(info)
        assert meta.label, f"{model.__table__}.{name} has no Chinese label"
        assert meta.description, f"{model.__table__}.{name} has no description"
        assert meta.business_key == (name in model.__business_key__), name


@pytest.mark.parametrize("model", TABLES, ids=lambda m: m.__table__)
def test_personal_data_is_never_open_unmasked(model) -> None:
    for name, info in model.model_fields.items():
        meta = field_standard(info)
        where = f"{model.__table__}.{name}"
        if meta.pi == "sensitive_pi":
            assert meta.open_level == "not_open", where
            assert meta.masking != "none", where
            assert SECURITY_ORDER.index(meta.security_level) >= SECURITY_ORDER.index("general-4")
        if meta.pi != "none":
            assert meta.open_level != "unconditional", where


def test_required_fields_reject_missing_values() -> None:
    from pydantic import ValidationError

    from schemas.records import Person

    with pytest.raises(ValidationError, match="id_number"):
        Person.model_validate({"name": "张三"})


def test_records_are_frozen_and_strict_about_unknown_fields() -> None:
    import datetime

    from pydantic import ValidationError

    from schemas.records import CreditListEntry

    row = {
        "subject_code": "91110000600037341L",
        "list_type": "black",
        "listed_at": datetime.date(2024, 1, 2),
        "subject_name": "某公司",
    }
    entry = CreditListEntry.model_validate(row)
    with pytest.raises(ValidationError):
        CreditListEntry.model_validate({**row, "colour": "black"})
    with pytest.raises(ValidationError):
        entry.list_type = "red"  # type: ignore[misc]
