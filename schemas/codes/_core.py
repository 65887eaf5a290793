"""Building blocks shared by the code checks (private).

Every check evaluates a chain of ``pl.struct(...).struct.with_fields(...)`` stages: each
intermediate result is a struct field computed once and read with ``pl.field`` by the
next stage. Eager ``DataFrame.select`` runs without common-subexpression elimination, and
a check that re-derived its cleaned input in every branch would do the work ten times over.

Conventions: field ``s`` holds the cleaned input, field ``reason`` the reason code.

Measured with Polars 2.1 (worth knowing before moving work around):

- A top-level ``pl.when(mask).then(branch)`` with 1% of rows selected made NFKC (costly per
  value) cost about a tenth of NFKC on every row; inside ``struct.eval``/``with_fields`` it
  cost as much as every row. Cheap kernels (slicing, concatenation) cost the same either
  way. Hence :func:`clean_code`, whose NFKC branch matters on dirty data, runs as the input
  of the first ``pl.struct``, not inside a stage.
- The in-memory engine works column by column over the whole frame; the streaming engine in
  cache-sized morsels on all cores, about twice the throughput here.
- A struct field cannot hold a reinterpreted Array (Polars panics), so :func:`byte_pairs`
  is recomputed where needed; it is a zero-copy reinterpretation.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from schemas.codes.text import clean_text

F = pl.field


def clean_code(expr: pl.Expr, *, cleaned: bool = False) -> pl.Expr:
    """Cleaned text without any whitespace, upper-cased: the spelling codes compare in.

    ``cleaned``: ``expr`` is already :func:`~schemas.codes.text.clean_text`'s output (a
    field the feed's mapping cleaned), so the regex scan is not paid twice; clean_text is
    idempotent, so the result is the same.

    Identifiers never contain spaces, so a space inside one is formatting (``110105 1949``),
    not content (clean_text has already turned every kind of space into U+0020; tabs and
    other ASCII control characters are kept and fail the format). Upper-casing turns ``x``
    into ``X``: it corrects nothing.
    """
    # A literal replace costs about what testing for a space first would (memchr), and
    # upper-casing everything less than finding the lower-case rows first.
    text = expr if cleaned else clean_text(expr)
    return text.str.replace_all(" ", "", literal=True).str.to_uppercase()


#: Table entry for a byte pair with a character not allowed at its position. Larger than
#: any sum of valid entries (9 pairs × modulus < 4096), so one comparison finds it.
INVALID = 4096


def pair_tables(
    positions: Sequence[dict[str, int] | None], weights: Sequence[int], modulus: int
) -> list[pl.Series]:
    """Lookup tables for a weighted check sum over the byte pairs of a fixed-length code.

    ``positions[i]`` maps each character allowed at position ``i`` to its value (``None``:
    any byte, value 0). Table ``k`` has 65,536 entries, one per little-endian byte pair
    ``(2k, 2k+1)``: ``(w·v + w'·v') mod modulus``, or :data:`INVALID` when either byte is
    not allowed there. Summing the pairs' entries gives the check sum and the format check
    at once: half the lookups of one per character, and no string slicing at all.
    """
    pair = pl.int_range(65_536, dtype=pl.Int32, eager=True)
    tables = []
    for k in range(len(positions) // 2):
        parts = []
        for i, shifted in ((2 * k, pair % 256), (2 * k + 1, pair // 256)):
            allowed = positions[i]
            byte_value = [0] * 256 if allowed is None else [-1] * 256
            for char, value in (allowed or {}).items():
                byte_value[ord(char)] = value
            parts.append(pl.Series(byte_value, dtype=pl.Int32).gather(shifted) * weights[i])
        lo, hi = parts
        tables.append(
            pl.select(
                pl.when((lo < 0) | (hi < 0)).then(INVALID).otherwise((lo + hi) % modulus)
            ).to_series()
        )
    return tables


def byte_pairs(code: pl.Expr, n_pairs: int) -> pl.Expr:
    """The code's bytes as an Array of ``n_pairs`` little-endian UInt16 pairs (no copy);
    null where the value is not exactly ``2 × n_pairs`` bytes (wrong length, non-ASCII)."""
    return code.cast(pl.Binary).bin.reinterpret(dtype=pl.Array(pl.UInt16, n_pairs))


def pair_sum(pairs: pl.Expr, tables: Sequence[pl.Series], first_pair: int = 0) -> pl.Expr:
    """Sum of the tables' entries for byte pairs ``first_pair``, ``first_pair + 1`` ...;
    null where ``pairs`` is null."""
    return pl.sum_horizontal(
        [pl.lit(table).gather(pairs.arr.get(first_pair + k)) for k, table in enumerate(tables)],
        ignore_nulls=False,
    )


def pair_code(text: str) -> int:
    """The UInt16 value :func:`byte_pairs` gives two ASCII characters (``"44"`` → 13364)."""
    return ord(text[0]) + 256 * ord(text[1])


def first_reason(value: pl.Expr, *rules: tuple[pl.Expr, str | None]) -> pl.Expr:
    """The reason code of the first rule whose condition holds, else null.

    A null ``value`` has no reason: whether a field is required is checked elsewhere. A
    rule with reason ``None`` accepts the value and ends the chain.
    """
    chain = pl.when(value.is_null()).then(pl.lit(None, dtype=pl.String))
    for condition, reason in rules:
        chain = chain.when(condition).then(pl.lit(reason, dtype=pl.String))
    return chain.otherwise(pl.lit(None, dtype=pl.String))


def ok_then(value: pl.Expr) -> pl.Expr:
    """``value`` where the cleaned input (field ``s``) is valid (field ``reason`` null)."""
    return pl.when(F("reason").is_null() & F("s").is_not_null()).then(value)


def in_set(expr: pl.Expr, values: Sequence[str] | frozenset[str]) -> pl.Expr:
    """Membership in a fixed set of strings, as one hashed lookup per row."""
    return expr.is_in(pl.Series(sorted(values), dtype=pl.String).implode())


def named_like(result: pl.Expr, expr: pl.Expr) -> pl.Expr:
    """``result`` under the output name of ``expr`` (a check of ``col("GMSFHM")`` is named
    ``GMSFHM``); unnamed inputs (``pl.field``) keep the result's own name."""
    name = expr.meta.output_name(raise_if_undetermined=False)
    return result.alias(name) if name else result


def doc_reasons(reasons: dict[str, str]) -> str:
    """The reason-code table for a module docstring (kept in step with ``REASONS``)."""
    return "\n".join(f"- ``{code}``: {text}" for code, text in reasons.items())
