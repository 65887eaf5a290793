"""The functions a governed query may call: an allow-list, not a deny-list.

DuckDB has hundreds of functions and gains more with each release and extension; some
read files (``read_csv``, ``glob``), the environment (``getenv``), settings
(``current_setting``) or the catalog (``duckdb_tables()``), or run SQL of their own
(``query()``). A deny-list misses the next one; an allow-list fails closed: a function
not named here is refused, and adding it is a reviewed one-line change.

sqlglot parses most functions into typed expressions (``UPPER(x)`` is ``exp.Upper``),
whatever the input dialect; the rest stay ``exp.Anonymous`` and are allowed by their
DuckDB name. Types are matched exactly, never by subclass, so a new sqlglot class that
happens to inherit from an allowed one is refused until it is listed.
"""

from __future__ import annotations

from sqlglot import exp

ALLOWED_TYPES: frozenset[type[exp.Func]] = frozenset(
    {
        # operators sqlglot models as functions
        exp.And,
        exp.Or,
        exp.Xor,
        exp.Exists,
        exp.Collate,
        # aggregates
        exp.Count,
        exp.CountIf,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Median,
        exp.Mode,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Quantile,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.GroupConcat,
        exp.ArrayAgg,
        exp.LogicalAnd,
        exp.LogicalOr,
        exp.AnyValue,
        exp.First,
        exp.Last,
        exp.ArgMax,
        exp.ArgMin,
        exp.ApproxDistinct,
        exp.Skewness,
        exp.Kurtosis,
        exp.Grouping,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.PercentRank,
        exp.CumeDist,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        # text
        exp.Upper,
        exp.Lower,
        exp.Length,
        exp.Substring,
        exp.Left,
        exp.Right,
        exp.Concat,
        exp.ConcatWs,
        exp.Trim,
        exp.Replace,
        exp.Pad,
        exp.Reverse,
        exp.Repeat,
        exp.SplitPart,
        exp.Split,
        exp.StrPosition,
        exp.Contains,
        exp.StartsWith,
        exp.EndsWith,
        exp.RegexpLike,
        exp.RegexpExtract,
        exp.RegexpReplace,
        exp.RegexpFullMatch,
        exp.RegexpILike,
        exp.RegexpSplit,
        exp.RegexpExtractAll,
        exp.RegexpCount,
        exp.MD5,
        exp.SHA2,
        exp.Format,
        exp.Initcap,
        exp.Translate,
        exp.Ascii,
        exp.Chr,
        exp.Unicode,
        exp.Levenshtein,
        exp.JarowinklerSimilarity,
        exp.ArrayToString,
        # numbers
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Sqrt,
        exp.Pow,
        exp.Ln,
        exp.Log,
        exp.Exp,
        exp.Sign,
        exp.Greatest,
        exp.Least,
        exp.Trunc,
        exp.Pi,
        exp.Cbrt,
        exp.Degrees,
        exp.Radians,
        exp.IsNan,
        exp.IsInf,
        # logic and types
        exp.Coalesce,
        exp.Nullif,
        exp.If,
        exp.Case,
        exp.Cast,
        exp.TryCast,
        exp.Typeof,
        # dates and times
        exp.CurrentDate,
        exp.CurrentTimestamp,
        exp.TimestampTrunc,
        exp.DateTrunc,
        exp.Extract,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.DayOfWeek,
        exp.DayOfWeekIso,
        exp.DayOfYear,
        exp.Week,
        exp.Quarter,
        exp.Hour,
        exp.Minute,
        exp.Second,
        exp.TimeToStr,
        exp.StrToTime,
        exp.StrToDate,
        exp.DateDiff,
        exp.DateAdd,
        exp.DateSub,
        exp.DateFromParts,
        exp.TimestampFromParts,
        exp.UnixToTime,
        exp.TimeToUnix,
        exp.LastDay,
        exp.Monthname,
        exp.Dayname,
        exp.DateBin,
        exp.ToDays,
        exp.TsOrDsToDate,
        exp.TsOrDsAdd,
        exp.Date,
        exp.DateStrToDate,
        exp.TimeStrToTime,
        exp.DayOfMonth,
        exp.WeekOfYear,
        # lists and structs (the lake has list columns: penalty_types, reasons, tables)
        exp.Array,
        exp.ArrayContains,
        exp.ArraySize,
        exp.ArraySort,
        exp.ArrayDistinct,
        exp.ArrayConcat,
        exp.ArraySlice,
        exp.ArrayPosition,
        exp.ArrayOverlaps,
        exp.StructExtract,
        exp.Explode,
        exp.Flatten,
        exp.Transform,
        exp.ArrayFilter,
        exp.Struct,
        # JSON
        exp.JSONExtract,
        exp.JSONExtractScalar,
        exp.JSONObject,
    }
)

ALLOWED_NAMES: frozenset[str] = frozenset(
    {
        "histogram",
        "strlen",
        "prefix",
        "suffix",
        "hash",
        "printf",
        "strip_accents",
        "even",
        "gcd",
        "lcm",
        "date_part",
        "datepart",
        "yearweek",
        "age",
        "to_months",
        "to_years",
        "to_weeks",
        "to_hours",
        "list_unique",
        "list_extract",
        "list_aggregate",
        "list_reverse",
        "list_position",
        "json_array_length",
        "to_json",
        "iso8601",
        "isoyear",
        "epoch_ms",
        "make_time",
        "greatest",
        "least",
    }
)


def function_name(node: exp.Func) -> str:
    """The name a person would recognise: ``read_csv``, ``getenv``, ``upper``.

    >>> import sqlglot
    >>> function_name(sqlglot.parse_one("SELECT getenv('HOME')", read="duckdb").selects[0])
    'getenv'
    """
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql_name().lower()


def is_allowed(node: exp.Func) -> bool:
    """Whether a parsed function call is on the allow-list.

    >>> import sqlglot
    >>> [is_allowed(f) for f in sqlglot.parse_one(
    ...     "SELECT upper(a), current_setting('x'), date_part('year', d)", read="duckdb"
    ... ).selects]
    [True, False, True]
    """
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ALLOWED_NAMES
    return type(node) in ALLOWED_TYPES
