"""Feed specs: typed, frozen, and consistent with the data standard."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from feeds.spec import FEEDS, FileDropTransport, ResourceSpec, feed
from schemas.errors import SpecError
from schemas.records import TABLES


def test_every_core_table_is_fed_by_exactly_one_resource() -> None:
    fed = [r.table for spec in FEEDS.values() for r in spec.resources]
    core = [m.__table__ for m in TABLES if m.__table__.startswith("core.")]
    assert sorted(fed) == sorted(core)


def test_contract_feed_names() -> None:
    # lake.md: `citybrain ingest FEED` accepts exactly these names.
    assert set(FEEDS) == {"population", "legal_entity", "geospatial", "credit", "licence"}


def test_mapping_to_an_unknown_column_is_refused_with_the_column_named() -> None:
    with pytest.raises(ValidationError, match="colour"):
        ResourceSpec(
            name="x",
            table="core.area",
            transports=(FileDropTransport(patterns=("*.geojson",), format="geojson"),),
            fields={
                "area_code": ("code",),
                "name": ("name",),
                "level": ("level",),
                "geometry": ("geometry",),
                "colour": ("c",),
            },
        )


def test_a_required_column_left_unmapped_is_refused() -> None:
    with pytest.raises(ValidationError, match="geometry"):
        ResourceSpec(
            name="x",
            table="core.area",
            transports=(FileDropTransport(patterns=("*.geojson",), format="geojson"),),
            fields={"area_code": ("code",), "name": ("name",), "level": ("level",)},
        )


def test_specs_are_frozen() -> None:
    with pytest.raises(ValidationError):
        FEEDS["population"].schedule = "@hourly"  # type: ignore[misc]


def test_unknown_feed_names_the_known_ones() -> None:
    with pytest.raises(SpecError, match="population, legal_entity"):
        feed("populaton")


def test_credit_accepts_both_field_generations() -> None:
    penalties = FEEDS["credit"].resources[0]
    assert {"CF_CFJGDM", "CF_XZJGDM"} <= penalties.source_fields()
