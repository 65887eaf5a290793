"""Person code tables: sex GB/T 2261.1-2003 and ethnic group GB/T 3304-1991
(standards.md §4.1, §4.2).

Feeds send the codes, unpadded codes (``1`` for ``01``) or the names (``男``, ``汉族``,
``汉``); all are mapped to the code. Names are matched as well as codes because some
source systems number ethnic groups by population rank, not by GB/T 3304 (§4.2): where
a source's dictionary is unknown, its names are the safer input.

Reason codes (``REASONS``):

- ``unknown``: not a code, name or synonym of the table.

``99`` / ``未说明`` for ethnic group is not a GB/T 3304 code: it means "not stated", so it
becomes null without a reason, like a null spelling.
"""

from __future__ import annotations

import polars as pl

from schemas.codes._core import F, clean_code, first_reason, named_like, ok_then

__all__ = ["ETHNIC_GROUPS", "REASONS", "SEX_CODES", "check_ethnicity_code", "check_sex_code"]

REASONS: dict[str, str] = {
    "unknown": "not a code or name of the code table",
}

#: GB/T 2261.1-2003. The codes are not contiguous: never map an ordinal to them.
SEX_CODES: dict[str, str] = {
    "0": "未知的性别",
    "1": "男性",
    "2": "女性",
    "5": "女性改(变)为男性",
    "6": "男性改(变)为女性",
    "9": "未说明的性别",
}

_SEX_SPELLINGS: dict[str, str] = {
    **{code: code for code in SEX_CODES},
    **{name: code for code, name in SEX_CODES.items()},
    "男": "1",
    "女": "2",
    "M": "1",
    "F": "2",
    "MALE": "1",
    "FEMALE": "2",
    "未知": "0",
    "未说明": "9",
}

#: GB/T 3304-1991: the 56 groups, 97 其他 (unidentified) and 98 外国血统中国籍人士.
ETHNIC_GROUPS: dict[str, str] = {
    "01": "汉族",
    "02": "蒙古族",
    "03": "回族",
    "04": "藏族",
    "05": "维吾尔族",
    "06": "苗族",
    "07": "彝族",
    "08": "壮族",
    "09": "布依族",
    "10": "朝鲜族",
    "11": "满族",
    "12": "侗族",
    "13": "瑶族",
    "14": "白族",
    "15": "土家族",
    "16": "哈尼族",
    "17": "哈萨克族",
    "18": "傣族",
    "19": "黎族",
    "20": "傈僳族",
    "21": "佤族",
    "22": "畲族",
    "23": "高山族",
    "24": "拉祜族",
    "25": "水族",
    "26": "东乡族",
    "27": "纳西族",
    "28": "景颇族",
    "29": "柯尔克孜族",
    "30": "土族",
    "31": "达斡尔族",
    "32": "仫佬族",
    "33": "羌族",
    "34": "布朗族",
    "35": "撒拉族",
    "36": "毛南族",
    "37": "仡佬族",
    "38": "锡伯族",
    "39": "阿昌族",
    "40": "普米族",
    "41": "塔吉克族",
    "42": "怒族",
    "43": "乌孜别克族",
    "44": "俄罗斯族",
    "45": "鄂温克族",
    "46": "德昂族",
    "47": "保安族",
    "48": "裕固族",
    "49": "京族",
    "50": "塔塔尔族",
    "51": "独龙族",
    "52": "鄂伦春族",
    "53": "赫哲族",
    "54": "门巴族",
    "55": "珞巴族",
    "56": "基诺族",
    "97": "其他",
    "98": "外国血统中国籍人士",
}

# Spellings meaning "not stated": null, not an error (see the module docstring).
_ETHNIC_UNSTATED = ("99", "未说明")


def _ethnic_spellings() -> dict[str, str]:
    spellings: dict[str, str] = {}
    for code, name in ETHNIC_GROUPS.items():
        spellings[code] = code
        spellings[str(int(code))] = code  # unpadded: 1 → 01
        spellings[name] = code
        if name.endswith("族"):
            spellings[name.removesuffix("族")] = code  # 汉 → 01
    # Former names (§4.2): 毛难族 became 毛南族 in 1986, 崩龙族 became 德昂族 in 1985.
    spellings.update({"毛难族": "36", "毛难": "36", "崩龙族": "46", "崩龙": "46"})
    spellings.update({"其他民族": "97", "未识别民族": "97", "外国血统": "98", "入籍": "98"})
    return spellings


def _check_table(
    expr: pl.Expr, spellings: dict[str, str], unstated: tuple[str, ...] = ()
) -> pl.Expr:
    s = F("s")
    code = s.replace_strict(spellings, default=None, return_dtype=pl.String)
    checked = (
        pl.struct(
            s=clean_code(expr).replace(list(unstated), None) if unstated else clean_code(expr)
        )
        .struct.with_fields(code=code)
        .struct.with_fields(reason=first_reason(s, (F("code").is_null(), "unknown")))
        .struct.eval(value=ok_then(F("code")), reason=F("reason"))
    )
    return named_like(checked, expr)


def check_sex_code(expr: pl.Expr) -> pl.Expr:
    """Check a GB/T 2261.1 sex code; names (``男``, ``女性``, ``未知``) and ``M``/``F`` are
    mapped to their code.

    Returns a struct ``{value, reason}``; ``value`` is the code (``"1"``).

    Example:
        >>> df = pl.DataFrame({"x": ["1", "女", "男性", "m", "未知", "3"]})
        >>> df.select(check_sex_code(pl.col("x")).struct.field("value", "reason")).rows()
        [('1', None), ('2', None), ('1', None), ('1', None), ('0', None), (None, 'unknown')]
    """
    return _check_table(expr, _SEX_SPELLINGS)


def check_ethnicity_code(expr: pl.Expr) -> pl.Expr:
    """Check a GB/T 3304 ethnic-group code; unpadded codes, names with or without ``族``
    and the former names ``毛难族``/``崩龙族`` are mapped to the 2-digit code.

    Returns a struct ``{value, reason}``.

    Example:
        >>> df = pl.DataFrame({"x": ["01", "1", "汉族", "汉", "毛难族", "崩龙族", "99", "57"]})
        >>> df.select(check_ethnicity_code(pl.col("x")).struct.field("value", "reason")).rows()
        [('01', None), ('01', None), ('01', None), ('01', None), ('36', None), ('46', None), (None, None), (None, 'unknown')]
    """
    return _check_table(expr, _ethnic_spellings(), _ETHNIC_UNSTATED)
