"""Text cleaning that every code check starts from (feeds.md "Common to all feeds").

Departments deliver full-width digits and letters (``１２Ｘ``), ideographic spaces
(U+3000), no-break spaces, zero-width characters and blanks around values, and spell
"no value" in many ways. :func:`clean_text` undoes all of that; the code checks build on
it, so a value is cleaned the same way whatever its field.

These functions return plain String expressions (not structs) and have no reason codes:
cleaning never rejects a value, it only normalizes it or turns a null spelling into null.
"""

from __future__ import annotations

import polars as pl

__all__ = ["NULL_SPELLINGS", "clean_text", "collapse_spaces"]

#: How the departments spell "no value" (feeds.md). Compared after NFKC and strip, so
#: full-width ``／`` and ``－`` are covered by ``/`` and ``-``.
NULL_SPELLINGS: tuple[str, ...] = ("", " ", "无", "NULL", "null", "/", "-", "——")

# Zero-width space, (non-)joiner, word joiner and BOM: invisible, so a value carrying one
# looks right on screen and still fails every lookup. NFKC keeps them, so they go by hand.
_ZERO_WIDTH = "[\u200b-\u200d\u2060\ufeff]"
# NFKC already maps NBSP and U+3000 to a plain space; the other Unicode spaces it leaves
# alone are mapped too, so that strip and collapse_spaces see one kind of space.
_ODD_SPACES = "[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"


def _non_ascii(expr: pl.Expr) -> pl.Expr:
    return expr.str.len_bytes() != expr.str.len_chars()


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Normalize raw text: NFKC, no zero-width characters, one kind of space, stripped;
    the null spellings of :data:`NULL_SPELLINGS` become null.

    NFKC is the costly step (about 1 s per 5M values), and it is the identity on ASCII,
    which is what almost every value of a code column is; it therefore sits behind a
    ``when`` on "has a non-ASCII character", which spares the rows that are not selected.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"x": ["\u3000１１０１０５ｘ\u200b ", " 无 ", "NULL", "张三", None]})
        >>> df.select(clean_text(pl.col("x")))["x"].to_list()
        ['110105x', None, None, '张三', None]
    """
    fixed = (
        expr.str.normalize("NFKC")
        .str.replace_all(_ZERO_WIDTH, "")
        .str.replace_all(_ODD_SPACES, " ")
    )
    # `expr` is referenced three times: free for a column, recomputed for a computed input
    # (so pass a column where you can). A struct field would compute it once, but inside
    # struct.eval the NFKC branch costs as much as on every row, which made batches with 1%
    # full-width rows several times slower (see schemas.codes._core).
    return (
        pl.when(_non_ascii(expr))
        .then(fixed)
        .otherwise(expr)
        .str.strip_chars()
        .replace(list(NULL_SPELLINGS), None)
        .alias(expr.meta.output_name(raise_if_undetermined=False) or "clean")
    )


def collapse_spaces(expr: pl.Expr) -> pl.Expr:
    """Remove the spaces inside Chinese text (``张 三`` → ``张三``), collapse runs of
    spaces elsewhere to one (``John  Smith`` → ``John Smith``). Expects cleaned text.

    Only a space with a Han character on both sides goes: between a Han character and a
    Latin word (``王 Tom``) it is kept, since which one is meant cannot be told.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"x": ["张 三", "欧 阳  娜 娜", "John   Smith", "王 Tom", None]})
        >>> df.select(collapse_spaces(pl.col("x")))["x"].to_list()
        ['张三', '欧阳娜娜', 'John Smith', '王 Tom', None]
    """
    han_gap = r"(\p{Han}) (\p{Han})"
    # The regex engine has no look-around, so a match consumes the Han character after a
    # gap and the next gap is skipped; a second pass closes every gap the first skipped.
    return (
        expr.str.replace_all(r"\s+", " ")
        .str.replace_all(han_gap, "${1}${2}")
        .str.replace_all(han_gap, "${1}${2}")
    )
