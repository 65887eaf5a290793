"""Roles and principals from configuration: who may read what, and how masked.

Defaults ship in ``roles.toml`` beside this module; a file named in
``CITYBRAIN_ROLES_FILE`` replaces the roles and principals of the same name (the shape is
documented at the top of ``roles.toml``).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from importlib import resources
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.errors import AccessDenied, ConfigError

if TYPE_CHECKING:
    from schemas.settings import Settings

Action = Literal["clear", "mask", "redact"]
"""What a role sees of a personal-data column: as stored, masked, or NULL."""

_DISTRICT = re.compile(r"^\d{6}$")


class Role(BaseModel):
    """One role: readable tables, masking per PI category, row scope and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    tables: tuple[str, ...]
    deny_tables: tuple[str, ...] = ()
    personal_data: dict[Literal["pi", "sensitive_pi"], Action] = Field(
        default_factory=lambda: {"pi": "mask", "sensitive_pi": "mask"}
    )
    scope: Literal["city", "district"] = "city"
    max_rows: int = Field(default=10_000, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)

    def may_read(self, table: str) -> bool:
        """Whether ``schema.table`` matches the role's patterns.

        >>> role = Role(name="steward", tables=("core.*", "meta.*"), deny_tables=("meta.query_audit",))
        >>> role.may_read("meta.batches"), role.may_read("meta.query_audit"), role.may_read("mart.alerts")
        (True, False, False)
        """
        allowed = any(fnmatch.fnmatchcase(table, p) for p in self.tables)
        return allowed and not any(fnmatch.fnmatchcase(table, p) for p in self.deny_tables)

    def action(self, pi: str) -> Action:
        """How this role sees a column of PI category ``pi`` (``none`` is always clear).

        A category the configuration forgot is masked: the safe side.
        """
        if pi == "none":
            return "clear"
        return self.personal_data.get(pi, "mask")  # type: ignore[call-overload]


class PrincipalConfig(BaseModel):
    """A configured principal: the role it acts as, its district, its token's hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    district_code: str | None = None
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Policy(BaseModel):
    """Every role and principal in force."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    district_columns: tuple[str, ...] = ("district_code", "region_code")
    memory_limit: str = Field(
        default="2GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
    )
    roles: dict[str, Role]
    principals: dict[str, PrincipalConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _principals_have_roles(self) -> Policy:
        for name, principal in self.principals.items():
            if principal.role not in self.roles:
                msg = f"principal {name!r} has role {principal.role!r}, which is not defined"
                raise ValueError(msg)
        return self

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(sorted(self.roles))
            msg = f"there is no role {name!r}; the roles are: {known}"
            raise AccessDenied(msg) from None


class Principal(BaseModel):
    """Who is asking: a name for the audit log, a role, and a district for scoped roles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    district_code: str | None = None


def _read_toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("CITYBRAIN_ROLES_FILE", where, f"valid TOML ({exc})") from exc


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key in ("roles", "principals"):
        out[key] = {**base.get(key, {}), **override.get(key, {})}
    for key in ("district_columns", "memory_limit"):
        if key in override:
            out[key] = override[key]
    unknown = set(override) - {"roles", "principals", "district_columns", "memory_limit"}
    if unknown:
        msg = f"unknown section(s) {sorted(unknown)}"
        raise ValueError(msg)
    return out


def load_policy(settings: Settings) -> Policy:
    """The roles in force: the shipped defaults, overridden by ``CITYBRAIN_ROLES_FILE``."""
    raw = _read_toml(
        (resources.files(__package__) / "roles.toml").read_text(encoding="utf-8"),
        "warehouse/governed/roles.toml",
    )
    where = "warehouse/governed/roles.toml"
    if settings.roles_file is not None:
        where = str(settings.roles_file)
        try:
            text = settings.roles_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                "CITYBRAIN_ROLES_FILE", where, "a readable TOML file of roles", str(exc)
            ) from exc
        try:
            raw = _merge(raw, _read_toml(text, where))
        except ValueError as exc:
            raise ConfigError(
                "CITYBRAIN_ROLES_FILE",
                where,
                "sections roles, principals, district_columns, memory_limit",
            ) from exc
    for name, role in raw.get("roles", {}).items():
        role.setdefault("name", name)
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            "CITYBRAIN_ROLES_FILE",
            where,
            "roles and principals as documented at the top of warehouse/governed/roles.toml",
            str(exc),
        ) from exc


def make_principal(policy: Policy, role: str, name: str, district_code: str | None) -> Principal:
    """A principal acting as ``role``, checked against the policy.

    >>> from schemas.settings import Settings
    >>> policy = load_policy(Settings(roles_file=None))
    >>> make_principal(policy, "district_analyst", "li", "440106").district_code
    '440106'
    >>> make_principal(policy, "district_analyst", "li", None)
    Traceback (most recent call last):
    ...
    schemas.errors.AccessDenied: role district_analyst is scoped to one district: give a 6-digit district code (e.g. --district 440106)
    """
    spec = policy.role(role)
    if spec.scope == "district":
        if district_code is None or not _DISTRICT.match(district_code):
            msg = (
                f"role {role} is scoped to one district: give a 6-digit district code "
                "(e.g. --district 440106)"
            )
            raise AccessDenied(msg)
    elif district_code is not None:
        msg = f"role {role} reads the whole city; a district code ({district_code}) makes no sense for it"
        raise AccessDenied(msg)
    return Principal(name=name, role=role, district_code=district_code)
