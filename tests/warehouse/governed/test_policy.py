"""Roles from configuration, and the governed layer kept in step with the data standard."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, get_args

import pytest
import sqlglot
from sqlglot import exp

from schemas.errors import ConfigError
from schemas.generate import table_columns
from schemas.records import QueryAudit
from schemas.settings import Settings
from schemas.standard import Masking
from warehouse.governed import load_policy, principal_for
from warehouse.governed.masking import mask_expression
from warehouse.governed.rewrite import lake_tables, masked_source
from warehouse.governed.sql import load_sql

if TYPE_CHECKING:
    from pathlib import Path


def settings_with(tmp_path: Path, text: str) -> Settings:
    roles = tmp_path / "roles.toml"
    roles.write_text(textwrap.dedent(text), encoding="utf-8")
    return Settings(home=tmp_path / "home", roles_file=roles)


def test_defaults_have_the_five_roles() -> None:
    policy = load_policy(Settings(roles_file=None))
    assert {"public", "analyst", "district_analyst", "steward", "admin"} <= set(policy.roles)
    assert policy.roles["public"].tables == ("mart.*",)
    assert not policy.roles["steward"].may_read("meta.query_audit")
    assert policy.roles["admin"].may_read("meta.query_audit")


def test_a_roles_file_replaces_by_name_and_keeps_the_rest(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path,
        """
        [roles.public]
        tables = ["mart.alerts"]
        max_rows = 50

        [principals.mayor_office]
        role = "public"
        token_sha256 = "%s"
        """
        % ("ab" * 32),
    )
    policy = load_policy(settings)
    assert policy.roles["public"].tables == ("mart.alerts",)
    assert policy.roles["public"].max_rows == 50
    assert policy.roles["analyst"].tables == ("core.*", "mart.*")  # untouched default
    assert policy.principals["mayor_office"].token_sha256 == "ab" * 32
    assert "demo_analyst" in policy.principals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[roles.public\n", "valid TOML"),
        ('[principals.x]\nrole = "mayor"\n', "role 'mayor', which is not defined"),
        ('[roles.x]\ntables = ["*"]\npersonal_data = { pi = "peek" }\n', "personal_data"),
        ("[elsewhere]\nx = 1\n", "sections roles, principals"),
        ('memory_limit = "lots"\n', "memory_limit"),
    ],
)
def test_a_bad_roles_file_names_itself_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    settings = settings_with(tmp_path, text)
    with pytest.raises(ConfigError, match="CITYBRAIN_ROLES_FILE") as error:
        load_policy(settings)
    assert str(tmp_path / "roles.toml") in str(error.value)
    assert expected in str(error.value)


def test_every_masking_kind_of_the_standard_has_a_sql_mask() -> None:
    for kind in get_args(Masking):
        sql_type = "DATE" if kind == "date_to_year" else "VARCHAR"
        assert mask_expression(kind, exp.column("x"), sql_type) is not None


@pytest.mark.parametrize("role", ["public", "analyst", "district_analyst", "steward", "admin"])
def test_every_table_of_the_standard_can_be_served_to_every_role(role: str) -> None:
    # New tables (the marts) are governed as soon as they are in TABLES: this fails when
    # a model declares a mask its column type cannot take.
    settings = Settings(roles_file=None)
    policy = load_policy(settings)
    principal = principal_for(
        role, "x", "440106" if role == "district_analyst" else None, settings=settings
    )
    spec = policy.role(role)
    for name, table in lake_tables().items():
        if spec.scope == "district" and not any(
            c.name in policy.district_columns for c in table.columns
        ):
            continue
        select = masked_source(table, "lake", spec, policy, principal)
        assert [p.alias for p in select.selects] == [c.name for c in table.columns], name


def test_the_audit_insert_names_every_column_of_meta_query_audit() -> None:
    insert = sqlglot.parse_one(load_sql("insert_query_audit"), read="duckdb")
    assert isinstance(insert, exp.Insert)
    assert insert.this.this.sql() == "meta.query_audit"
    named = [c.name for c in insert.this.expressions]
    assert sorted(named) == sorted(c.name for c in table_columns(QueryAudit))


def test_substitution_checks_the_role_again() -> None:
    # Defence in depth: a lake table that reached the rewrite without passing the
    # resolver (a construct qualify did not visit) is still refused, not served.
    from schemas.errors import QueryRefused
    from warehouse.governed.rewrite import substitute

    settings = Settings(roles_file=None)
    policy = load_policy(settings)
    principal = principal_for("analyst", "x", settings=settings)
    query = sqlglot.parse_one("SELECT sql FROM lake.meta.query_audit AS a", read="duckdb")
    with pytest.raises(QueryRefused) as refused:
        substitute(query, "lake", policy.role("analyst"), policy, principal)
    assert refused.value.reason == "table.not_allowed"
