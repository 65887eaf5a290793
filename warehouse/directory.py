"""The directory of authorities that older credit records are resolved against.

The older credit sub-system names the deciding authority (处罚机关/许可机关) but sends no
code, and the code is part of the business key. Two sources know the codes:

- the **configured directory**, ``CITYBRAIN_AUTHORITY_DIRECTORY``: a CSV as a credit
  office publishes it, one authority per line with its code, name, former names and
  region (:data:`HEADERS`); the demo city's credit office writes one next to its API data;
- the **lake**: names seen next to codes in credit decisions and licence issuers
  (``authority_directory.sql``), which only knows authorities that have appeared by code.

Both are normalized the same way (:func:`transforms.credit.normalize_authority_name`,
which the records' names go through too) and merged: configured entries win, and every
disagreement is reported (logged, with what to correct) rather than guessed away.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from schemas.codes.credit_code import check_uscc
from schemas.codes.text import clean_text
from schemas.errors import ConfigError, LakeError
from transforms.credit import normalize_authority_name
from warehouse.lake import attach, use_lake
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from schemas.settings import Settings

__all__ = [
    "HEADERS",
    "AuthorityConflict",
    "AuthorityDirectory",
    "authority_directory",
    "lake_authorities",
    "load_authority_directory",
    "merge_directories",
    "read_directory_file",
]

log = logging.getLogger(__name__)

SETTING = "CITYBRAIN_AUTHORITY_DIRECTORY"

#: Column of the directory file -> the header spellings accepted for it (English as in
#: lake.md, Chinese as a credit office writes them). Code and name are required.
HEADERS: dict[str, tuple[str, ...]] = {
    "authority_code": ("authority_code", "统一社会信用代码", "机关代码"),
    "authority_name": ("authority_name", "机关名称", "名称"),
    "aliases": ("aliases", "曾用名", "别名"),
    "region_code": ("region_code", "行政区划代码", "所属区划"),
}
_REQUIRED = ("authority_code", "authority_name")
# Former names in one cell: 、；; and | all occur in hand-kept sheets (；→; after NFKC).
_ALIAS_SEPARATORS = r"[;、|]"
# A file saved from Excel on a Chinese desktop is GB18030 (a superset of GBK). UTF-8 (with
# or without BOM) is tried first: GB18030 text is almost never valid UTF-8, the reverse
# often decodes (wrongly) as GB18030.
_ENCODINGS = ("utf-8-sig", "gb18030")
_SCHEMA = {"name": pl.String, "code": pl.String}


@dataclass(frozen=True)
class AuthorityConflict:
    """Two codes for one authority name; ``kept`` is the code used (None: name dropped).

    >>> str(AuthorityConflict("某局", "lake", ("11440100MB0000001X",), kept="11440100MB0000002X"))
    "authority '某局': the configured directory gives 11440100MB0000002X, the lake's records 11440100MB0000001X; the directory's code is used (correct CITYBRAIN_AUTHORITY_DIRECTORY if the lake is right)"
    """

    name: str
    against: str  # "lake" | "directory" (two codes inside the file) | "lake_only"
    codes: tuple[str, ...]
    kept: str | None = None

    def __str__(self) -> str:
        codes = ", ".join(self.codes)
        if self.against == "lake":
            return (
                f"authority {self.name!r}: the configured directory gives {self.kept}, the "
                f"lake's records {codes}; the directory's code is used (correct {SETTING} "
                "if the lake is right)"
            )
        where = "the configured directory" if self.against == "directory" else "the lake"
        return (
            f"authority {self.name!r}: {where} gives several codes ({codes}); records naming "
            f"it without a code stay authority_code.missing until {SETTING} lists it once"
        )


@dataclass(frozen=True)
class AuthorityDirectory:
    """Normalized name (or former name) -> credit code, and what the merge had to decide."""

    codes: dict[str, str]
    conflicts: tuple[AuthorityConflict, ...] = ()


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            SETTING,
            str(path),
            "a readable CSV file of authorities",
            f"{exc.strerror}. Point {SETTING} at the credit office's directory, or unset it.",
        ) from exc
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ConfigError(SETTING, str(path), "a CSV in UTF-8 or GB18030", "Re-save it as UTF-8.")


def _columns(header: list[str], path: Path) -> dict[str, int]:
    found = {}
    cleaned = [h.strip() for h in header]
    for column, spellings in HEADERS.items():
        for i, h in enumerate(cleaned):
            if h in spellings:
                found[column] = i
                break
    missing = [c for c in _REQUIRED if c not in found]
    if missing:
        wanted = "; ".join(f"{c} ({' / '.join(HEADERS[c])})" for c in missing)
        raise ConfigError(
            SETTING,
            str(path),
            f"a header naming {wanted}",
            f"The header read was {cleaned!r}.",
        )
    return found


def read_directory_file(path: Path) -> pl.DataFrame:
    """The authorities of a directory file: one row per name or former name.

    Columns: ``name`` (normalized), ``code`` (upper case, checked as GB 32100), ``region_code``,
    ``line`` (1-based, the header is line 1). A bad code or a line without a name stops the
    whole file with a :class:`ConfigError` naming the lines: a directory that is silently
    half-read puts decisions under no authority.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "authorities.csv"
    ...     _ = p.write_text("统一社会信用代码,机关名称,曾用名,行政区划代码\\n"
    ...                      "11440100MB9510701Q,广州市 生态环境局,广州市环境保护局；广州市环保局,440100\\n")
    ...     read_directory_file(p).rows()  # doctest: +NORMALIZE_WHITESPACE
    [('广州市生态环境局', '11440100MB9510701Q', '440100', 2),
     ('广州市环境保护局', '11440100MB9510701Q', '440100', 2),
     ('广州市环保局', '11440100MB9510701Q', '440100', 2)]
    """
    rows = list(csv.reader(io.StringIO(_decode(path), newline="")))
    if not rows:
        raise ConfigError(SETTING, str(path), "a header line and one line per authority")
    at = _columns(rows[0], path)

    def cell(row: list[str], column: str) -> str | None:
        i = at.get(column)
        return row[i] if i is not None and i < len(row) else None

    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    raw = pl.DataFrame(
        {
            "line": [n for n, _ in body],
            "code": [cell(r, "authority_code") for _, r in body],
            "name": [cell(r, "authority_name") for _, r in body],
            "aliases": [cell(r, "aliases") for _, r in body],
            "region_code": [cell(r, "region_code") for _, r in body],
        },
        schema={
            "line": pl.Int64,
            "code": pl.String,
            "name": pl.String,
            "aliases": pl.String,
            "region_code": pl.String,
        },
    )
    checked = raw.with_columns(
        check_uscc(pl.col("code")).alias("_code"),
        normalize_authority_name(pl.col("name")),
        pl.col("region_code").str.strip_chars(),
    )
    bad = checked.filter(
        pl.col("_code").struct.field("value").is_null() | pl.col("name").is_null()
    ).head(5)
    if bad.height:
        problems = "; ".join(
            f"line {line}: code {code!r} {reason or ('missing' if code is None else 'ok')}, "
            f"name {name!r}"
            for line, code, reason, name in bad.select(
                "line", "code", pl.col("_code").struct.field("reason"), "name"
            ).iter_rows()
        )
        raise ConfigError(
            SETTING,
            str(path),
            "on every line a valid 18-character credit code (GB 32100) and a name",
            f"Fix these lines (first five): {problems}.",
        )
    aliases = (
        checked.select(
            "line",
            pl.col("_code").struct.field("value").alias("code"),
            "region_code",
            # Cleaned first: NFKC turns the full-width ；｜ into separators split on here.
            clean_text(pl.col("aliases"))
            .str.replace_all(_ALIAS_SEPARATORS, ";")
            .str.split(";")
            .alias("name"),
        )
        .explode("name")
        .with_columns(normalize_authority_name(pl.col("name")))
        .drop_nulls("name")
    )
    primary = checked.select(
        "name", pl.col("_code").struct.field("value").alias("code"), "region_code", "line"
    )
    return pl.concat([primary, aliases.select(primary.columns)]).sort("line", maintain_order=True)


def lake_authorities(settings: Settings) -> pl.DataFrame:
    """Names the lake has seen next to a code (``name``, ``code``); empty before a load."""
    try:
        con = attach(settings, read_only=True)
    except LakeError:
        return pl.DataFrame(schema=_SCHEMA)
    try:
        con.execute(use_lake(settings))
        rows = con.execute(load_sql("authority_directory")).fetchall()
    finally:
        con.close()
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


def _codes_per_name(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.select(normalize_authority_name(pl.col("name")), pl.col("code"))
        .drop_nulls()
        .group_by("name", maintain_order=True)
        .agg(pl.col("code").unique().sort())
    )


def merge_directories(configured: pl.DataFrame, lake: pl.DataFrame) -> AuthorityDirectory:
    """Configured entries (``name``, ``code``) over the lake's, names normalized.

    >>> file = pl.DataFrame({"name": ["甲局", "乙局", "旧名", "旧名"],
    ...                      "code": ["11440100MB0000001X", "B", "C", "D"]})
    >>> lake = pl.DataFrame({"name": ["甲 局", "丙局"], "code": ["11440100MB0000009X", "E"]})
    >>> d = merge_directories(file, lake)
    >>> d.codes
    {'甲局': '11440100MB0000001X', '乙局': 'B', '丙局': 'E'}
    >>> [(c.name, c.against, c.codes, c.kept) for c in d.conflicts]  # doctest: +NORMALIZE_WHITESPACE
    [('甲局', 'lake', ('11440100MB0000009X',), '11440100MB0000001X'),
     ('旧名', 'directory', ('C', 'D'), None)]
    """
    conflicts: list[AuthorityConflict] = []
    codes: dict[str, str] = {}
    lake_codes: dict[str, str] = {}
    for name, found in _codes_per_name(lake).iter_rows():
        if len(found) == 1:
            lake_codes[name] = found[0]
        else:
            conflicts.append(AuthorityConflict(name, "lake_only", tuple(found)))
    configured_names = set()
    for name, found in _codes_per_name(configured).iter_rows():
        configured_names.add(name)
        if len(found) > 1:
            conflicts.append(AuthorityConflict(name, "directory", tuple(found)))
            continue
        codes[name] = found[0]
        other = lake_codes.get(name)
        if other is not None and other != found[0]:
            conflicts.append(AuthorityConflict(name, "lake", (other,), kept=found[0]))
    # A name the file lists ambiguously stays out even when the lake has one code for it:
    # the file says the name is not enough to tell the authority.
    codes |= {n: c for n, c in lake_codes.items() if n not in configured_names}
    return AuthorityDirectory(codes=codes, conflicts=tuple(conflicts))


def load_authority_directory(settings: Settings) -> AuthorityDirectory:
    """The configured directory merged with the lake's (see the module docstring).

    The setting's default path may be absent (a deployment without a published directory);
    a path set explicitly must exist.
    """
    path = settings.authority_directory
    if path.exists() or "authority_directory" in settings.model_fields_set:
        configured = read_directory_file(path).select("name", "code")
    else:
        configured = pl.DataFrame(schema=_SCHEMA)
    return merge_directories(configured, lake_authorities(settings))


def authority_directory(settings: Settings) -> dict[str, str]:
    """Authority name (or former name) -> credit code, for the credit normalizers.

    Conflicts between the sources are logged as warnings (they show in the task's log).
    """
    directory = load_authority_directory(settings)
    for conflict in directory.conflicts:
        log.warning("%s", conflict)
    return directory.codes
