"""Text cleaning that every code check starts from (feeds.md "Common to all feeds").

Departments deliver full-width digits and letters (``１２Ｘ``), ideographic spaces
(U+3000), no-break spaces, zero-width characters and blanks around values, and spell
"no value" in many ways. :func:`clean_text` undoes all of that; the code checks build on
it, so a value is cleaned the same way whatever its field.

These functions return plain String expressions (not structs) and have no reason codes:
cleaning never rejects a value, it only normalizes it or turns a null spelling into null.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata

import polars as pl

__all__ = ["NULL_SPELLINGS", "clean_text", "collapse_spaces"]

#: How the departments spell "no value" (feeds.md). Compared after NFKC and strip, so
#: full-width ``／`` and ``－`` are covered by ``/`` and ``-``.
NULL_SPELLINGS: tuple[str, ...] = ("", " ", "无", "NULL", "null", "/", "-", "——")

# Zero-width space, (non-)joiner, word joiner and BOM: invisible, so a value carrying one
# looks right on screen and still fails every lookup. NFKC keeps them, so they go by hand.
_ZERO_WIDTH_CHARS = "\u200b\u200c\u200d\u2060\ufeff"
# NFKC already maps NBSP and U+3000 to a plain space; the other Unicode spaces it leaves
# alone are mapped too, so that strip and collapse_spaces see one kind of space.
_ODD_SPACE_CHARS = "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
# What clean_text does with both kinds, as literal replacements.
_SPACE_FIXES = dict.fromkeys(_ZERO_WIDTH_CHARS, "") | dict.fromkeys(_ODD_SPACE_CHARS, " ")


# Blocks where no character decomposes or combines (CJK unified ideographs and their
# extensions B-F, Hangul syllables, surrogates and private use): skipping them saves about
# half of the scan in every process. The tests check that the class is the full scan's.
_STABLE_BLOCKS = (
    (0x3400, 0x4DC0),
    (0x4E00, 0xA000),
    (0xAC00, 0xD7A4),
    (0xD800, 0xF900),
    (0x20000, 0x2F800),
)


def _scanned_chars() -> list[str]:
    """The characters of planes 0-2 above ASCII outside :data:`_STABLE_BLOCKS`."""
    chars, start = [], 0x80
    for low, high in _STABLE_BLOCKS:
        chars.extend(map(chr, range(start, low)))
        start = high
    chars.extend(map(chr, range(start, 0x30000)))
    return chars


@functools.cache
def _unstable_class() -> str:
    """A regex class of every character that :func:`clean_text`'s slow branch can change.

    That is: characters NFKC maps to something else (full-width forms, U+3000, NBSP,
    Kangxi radicals, compatibility ideographs, circled digits ...), characters that can
    compose with the one before them (combining marks, Hangul vowel and final jamo), and
    the zero-width and odd spaces NFKC leaves alone. Built once per process from the
    interpreter's Unicode tables (planes 0-2 hold every such character; ~0.03 CPU-s).

    Only a character with a decomposition mapping can change under NFKC (a Hangul
    syllable's is algorithmic, and NFKC composes it back), so NFKC runs on those alone;
    ``map`` over the C functions keeps the per-character work out of the interpreter loop.

    >>> pl.Series(["１２", "12", "张三", "e\u0301", "\u3000"]).str.contains(_unstable_class()).to_list()
    [True, False, False, True, True]
    """
    unstable = set(_ZERO_WIDTH_CHARS + _ODD_SPACE_CHARS)
    # Hangul syllables decompose algorithmically (no table entry): their vowel and final
    # jamo compose with the jamo before them.
    unstable.update(map(chr, [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]))
    chars = _scanned_chars()
    unstable.update(itertools.compress(chars, map(unicodedata.combining, chars)))
    decompositions = list(map(unicodedata.decomposition, chars))
    for char, decomposition in zip(
        itertools.compress(chars, decompositions), filter(None, decompositions), strict=True
    ):
        if unicodedata.normalize("NFKC", char) != char:
            unstable.add(char)
        parts = decomposition.split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            # The second of a canonical pair composes with the character before it (NFC's
            # "maybe"): ``e`` + U+0301 → ``é``, a Hangul vowel jamo after a leading one.
            unstable.add(chr(int(parts[1], 16)))
    codes = sorted(ord(c) for c in unstable)
    ranges, start = [], codes[0]
    for prev, code in itertools.pairwise([*codes, -1]):
        if code != prev + 1:
            ranges.append(f"\\x{{{start:x}}}" + (f"-\\x{{{prev:x}}}" if prev > start else ""))
            start = code
    return "[" + "".join(ranges) + "]"


def _needs_fixing(expr: pl.Expr) -> pl.Expr:
    """Whether :func:`clean_text` can change the value other than by nulling it: it holds a
    character of :func:`_unstable_class`, or starts or ends with whitespace (``\\s`` is
    Unicode White_Space, what ``strip_chars`` removes; ``$`` is the end of the text).

    >>> df = pl.DataFrame({"x": ["１２", "张三", " 12", "12\\t", "1 2", "12\\u2028", "无"]})
    >>> df.select(_needs_fixing(pl.col("x")))["x"].to_list()
    [True, False, True, True, False, True, False]
    """
    return expr.str.contains(f"{_unstable_class()}|^\\s|\\s$")


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Normalize raw text: NFKC, no zero-width characters, one kind of space, stripped;
    the null spellings of :data:`NULL_SPELLINGS` become null.

    NFKC is the costly step (about 1 s per 5M values), and it is the identity on almost
    every value: code columns are ASCII, and names and addresses are plain ideographs. It
    therefore sits behind a ``when`` on "has a character the fix would change" (one regex
    class scan), which spares the rows that are not selected; testing "has a non-ASCII
    character" instead sent every Chinese name and address through NFKC (1.4 s of the
    population feed's 8 CPU-s per million rows). The same scan looks for whitespace at
    either end, so stripping too runs only on the rows that have some: a value selected by
    neither comes out as it went in, but for the null spellings (0.1 CPU-s less per
    million population rows than stripping every value).

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"x": ["\u3000１１０１０５ｘ\u200b ", " 无 ", "NULL", "张三", None]})
        >>> df.select(clean_text(pl.col("x")))["x"].to_list()
        ['110105x', None, None, '张三', None]
    """
    # One literal multi-pattern pass (single characters, no overlaps) for both fixes: two
    # regex passes cost about 0.04 CPU-s per million rows even masked by the `when`.
    fixed = expr.str.normalize("NFKC").str.replace_many(_SPACE_FIXES).str.strip_chars()
    # `expr` is referenced three times: free for a column, recomputed for a computed input
    # (so pass a column where you can). A struct field would compute it once, but inside
    # struct.eval the NFKC branch costs as much as on every row, which made batches with 1%
    # full-width rows several times slower (see schemas.codes._core).
    return (
        pl.when(_needs_fixing(expr))
        .then(fixed)
        .otherwise(expr)
        .replace(list(NULL_SPELLINGS), None)
        .alias(expr.meta.output_name(raise_if_undetermined=False) or "clean")
    )


def collapse_spaces(expr: pl.Expr) -> pl.Expr:
    """Remove the spaces inside Chinese text (``张 三`` → ``张三``), collapse runs of
    spaces elsewhere to one (``John  Smith`` → ``John Smith``). Expects cleaned text.

    Only a space with a Han character on both sides goes: between a Han character and a
    Latin word (``王 Tom``) it is kept, since which one is meant cannot be told. Pass a
    column: a computed input is computed again for each of its three uses.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"x": ["张 三", "欧 阳  娜 娜", "John   Smith", "王 Tom", None]})
        >>> df.select(collapse_spaces(pl.col("x")))["x"].to_list()
        ['张三', '欧阳娜娜', 'John Smith', '王 Tom', None]
    """
    han_gap = r"(\p{Han}) (\p{Han})"
    # Only values with whitespace change (1% of names): they are filtered out, collapsed
    # and gathered back onto their rows, instead of three regex passes over every value.
    spaced = expr.str.contains(r"\s")
    position = pl.when(spaced).then(spaced.cast(pl.Int64).cum_sum() - 1)
    # The regex engine has no look-around, so a match consumes the Han character after a
    # gap and the next gap is skipped; a second pass closes every gap the first skipped.
    collapsed = (
        expr.filter(spaced)
        .str.replace_all(r"\s+", " ")
        .str.replace_all(han_gap, "${1}${2}")
        .str.replace_all(han_gap, "${1}${2}")
    )
    return pl.coalesce(collapsed.gather(position), expr)
