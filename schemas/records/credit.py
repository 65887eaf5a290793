"""社会信用 — penalties, permits and lists (owner: 市发展改革委 信用办).

Natural persons appear as subjects in all three, so subject codes are graded as
sensitive personal information; the governed query layer unmasks them only for entities.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from schemas.records.base import CanonicalRecord, Money
from schemas.standard import std

_OWNER = "市发展改革委（信用办）"


class CreditPenalty(CanonicalRecord):
    """An administrative penalty decision, 双公示 (`core.credit_penalty`)."""

    __table__: ClassVar[str] = "core.credit_penalty"
    __business_key__: ClassVar[tuple[str, ...]] = ("decision_no", "authority_code")
    __label__: ClassVar[str] = "行政处罚信息"
    __owner__: ClassVar[str] = _OWNER
    __history__: ClassVar[bool] = True

    decision_no: str = std("行政处罚决定书文号", "CF_WSH.", business_key=True)
    authority_code: str = std(
        "处罚机关统一社会信用代码", "CF_CFJGDM.", code="uscc", business_key=True
    )
    authority_name: str | None = std("处罚机关", "CF_CFJG.", default=None)
    subject_name: str = std(
        "行政相对人名称",
        "CF_XDR_MC.",
        pi="pi",
        masking="name",
        open_level="conditional",
    )
    subject_category: str | None = std(
        "行政相对人类别", "法人及非法人组织, 自然人 or 个体工商户.", default=None
    )
    subject_code: str | None = std(
        "行政相对人代码",
        "USCC of an organization or citizen ID of a person.",
        default=None,
        code="subject_code",
        pi="sensitive_pi",
        masking="id_number",
    )
    subject_code_type: Literal["uscc", "citizen_id"] | None = std(
        "行政相对人代码类型", "Which standard subject_code follows.", default=None
    )
    violation_type: str | None = std("违法行为类型", "CF_WFXW.", default=None)
    facts: str | None = std("违法事实", "CF_SY.", default=None)
    basis: str | None = std("处罚依据", "CF_YJ.", default=None)
    penalty_types: list[str] = std(
        "处罚类别", "CF_CFLB split into its categories (警告, 罚款, ...).", default_factory=list
    )
    content: str | None = std("处罚内容", "CF_NR.", default=None)
    fine_amount: Money | None = std(
        "罚款金额（元）", "Fine in yuan (CF_NR_FK is delivered in 万元).", default=None
    )
    decision_date: date = std("处罚决定日期", "CF_JDRQ.")
    publish_until: date | None = std("公示截止期", "CF_GSJZQ: de-publication date.", default=None)
    data_source_name: str | None = std("数据来源单位", "CF_SJLY.", default=None)
    data_source_code: str | None = std("数据来源单位代码", "CF_SJLYDM.", default=None, code="uscc")


class CreditPermit(CanonicalRecord):
    """An administrative licensing decision, 双公示 (`core.credit_permit`)."""

    __table__: ClassVar[str] = "core.credit_permit"
    __business_key__: ClassVar[tuple[str, ...]] = ("decision_no", "authority_code")
    __label__: ClassVar[str] = "行政许可信息"
    __owner__: ClassVar[str] = _OWNER
    __history__: ClassVar[bool] = True

    decision_no: str = std("行政许可决定文书号", "XK_WSH.", business_key=True)
    authority_code: str = std(
        "许可机关统一社会信用代码", "XK_XKJGDM.", code="uscc", business_key=True
    )
    authority_name: str | None = std("许可机关", "XK_XKJG.", default=None)
    subject_name: str = std(
        "行政相对人名称", "XK_XDR_MC.", pi="pi", masking="name", open_level="conditional"
    )
    subject_category: str | None = std("行政相对人类别", "XK_XDR_LB.", default=None)
    subject_code: str | None = std(
        "行政相对人代码",
        "USCC of an organization or citizen ID of a person.",
        default=None,
        code="subject_code",
        pi="sensitive_pi",
        masking="id_number",
    )
    subject_code_type: Literal["uscc", "citizen_id"] | None = std(
        "行政相对人代码类型", "Which standard subject_code follows.", default=None
    )
    permit_name: str | None = std(
        "许可证书名称", "XK_XKZS (or XK_XMMC in the old generation).", default=None
    )
    permit_number: str | None = std("许可编号", "XK_XKBH.", default=None)
    permit_category: str | None = std(
        "许可类别", "XK_XKLB: 普通, 特许, 认可, 核准, 登记, 其他.", default=None
    )
    content: str | None = std("许可内容", "XK_NR.", default=None)
    decision_date: date = std("许可决定日期", "XK_JDRQ.")
    valid_from: date | None = std("有效期自", "XK_YXQZ.", default=None)
    valid_to: date | None = std("有效期至", "XK_YXQZI; NULL when open-ended.", default=None)
    status: str | None = std("当前状态", "XK_ZT.", default=None)


class CreditListEntry(CanonicalRecord):
    """Membership of a serious-dishonesty (black) or incentive (red) list (`core.credit_list`)."""

    __table__: ClassVar[str] = "core.credit_list"
    __business_key__: ClassVar[tuple[str, ...]] = ("subject_code", "list_type", "listed_at")
    __label__: ClassVar[str] = "信用红黑名单"
    __owner__: ClassVar[str] = _OWNER
    __history__: ClassVar[bool] = True

    subject_code: str = std(
        "主体代码",
        "USCC or citizen ID of the listed subject.",
        code="subject_code",
        pi="sensitive_pi",
        masking="id_number",
        business_key=True,
    )
    list_type: Literal["black", "red"] = std(
        "名单类型", "black (严重失信主体名单) or red (守信激励).", business_key=True
    )
    listed_at: date = std("列入日期", "Date the subject was listed.", business_key=True)
    subject_name: str = std(
        "主体名称", "Name of the subject.", pi="pi", masking="name", open_level="conditional"
    )
    list_name: str | None = std("名单名称", "The list's original name.", default=None)
    listing_authority: str | None = std(
        "列入机关", "Authority that listed the subject.", default=None
    )
    basis_doc: str | None = std("列入依据文书", "Document the listing rests on.", default=None)
    expires_at: date | None = std("有效期至", "When the listing lapses.", default=None)
    removed_at: date | None = std("移出日期", "When the subject was removed early.", default=None)
