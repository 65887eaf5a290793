"""The data catalog over HTTP: ``/catalog`` (a page), ``/api/catalog`` and ``/api/lineage``.

Metadata only — table and column names, Chinese labels, classification, freshness and
lineage, never a row of data — so the router needs no token (the governed SQL endpoint
is the one that does). Every request opens the lake read-only, reads ``meta.lineage``,
``meta.batches`` and ``meta.feed_slas`` and closes it again; the page is rendered on the
server as plain HTML with a small script (``static/catalog.js``) for searching.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from schemas.settings import get_settings
from warehouse.lineage import build_catalog, lineage_tree, read_lake_state

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from schemas.settings import Settings
    from warehouse.lineage import (
        Catalog,
        CatalogColumn,
        CatalogTable,
        Freshness,
        LakeState,
        LineageNode,
        TableLineage,
    )

router = APIRouter(tags=["catalog"])

_PI = {"none": "", "pi": "PI", "sensitive_pi": "敏感 PI"}
_OPEN = {"unconditional": "无条件", "conditional": "有条件", "not_open": "不予开放"}
_SHARE = {"unconditional": "无条件", "conditional": "有条件", "not_shared": "不予共享"}


def _settings(request: Request) -> Settings:
    # The app keeps the settings it was created with; a bare router reads them now.
    return getattr(request.app.state, "settings", None) or get_settings()


def _catalog(state: LakeState, settings: Settings) -> Catalog:
    from schemas.records import TABLES

    return build_catalog(TABLES, state, overrides=settings.security_level_overrides)


@router.get("/api/catalog")
def api_catalog(request: Request) -> dict[str, Any]:
    """Every table and column with labels, governance, feeds and their freshness."""
    settings = _settings(request)
    return _catalog(read_lake_state(settings), settings).model_dump(mode="json")


@router.get("/api/lineage/{table}")
def api_lineage(table: str, request: Request) -> dict[str, Any]:
    """Each column of ``table`` with the tree of its sources, as recorded in ``meta.lineage``."""
    state = read_lake_state(_settings(request))
    try:
        tree = lineage_tree(table, state.edges)
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=exc.args[0]) from exc
    return tree.model_dump(mode="json") | {
        "recorded_at": state.recorded_at.isoformat() if state.recorded_at else None,
        "notes": list(state.notes),
    }


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(request: Request) -> HTMLResponse:
    """The catalog page: searchable tables, their columns, freshness and lineage."""
    settings = _settings(request)
    state = read_lake_state(settings)
    result = _catalog(state, settings)
    traced = {e.target_table for e in state.edges} & {t.name for t in result.tables}
    trees = {name: lineage_tree(name, state.edges) for name in sorted(traced)}
    return HTMLResponse(render_page(result, trees))


# --- the page --------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _badge(is_stale: bool | None, feeds: Sequence[str]) -> str:
    if not feeds:
        return ""
    if is_stale is None:
        return '<span class="badge unknown">时效未知 freshness unknown</span>'
    if is_stale:
        return '<span class="badge stale">过期 stale</span>'
    return '<span class="badge fresh">及时 fresh</span>'


def _freshness_rows(feeds: Iterable[Freshness]) -> str:
    rows = []
    for f in feeds:
        last = f.last_loaded_at.strftime("%Y-%m-%d %H:%M") if f.last_loaded_at else "—"
        lag = f"{f.lag_hours:,.1f}" if f.lag_hours is not None else "—"
        sla = f"{f.freshness_sla_hours:,.0f}" if f.freshness_sla_hours is not None else "—"
        rows.append(
            f'<tr data-feed="{_e(f.feed)}"><td>{_e(f.feed)}</td><td>{last}</td>'
            f'<td class="num">{lag}</td><td class="num">{sla}</td>'
            f"<td>{_badge(f.is_stale, [f.feed])}</td></tr>"
        )
    return "".join(rows)


def _source_html(node: LineageNode) -> str:
    shown = node.label and node.label != node.column
    label = f' <span class="label">{_e(node.label)}</span>' if shown else ""
    transform = f' <span class="transform">{_e(node.transform)}</span>'
    if node.kind == "feed_field":
        older = ' <span class="older">older or other name</span>' if node.rank else ""
        head = (
            f'<span class="kind feed">{_e(node.department)} · {_e(node.feed)}/'
            f"{_e(node.resource)}</span> <code>{_e(node.column)}</code>{label}{older}"
        )
        transform = ""
    elif node.kind == "computed":
        head = f'<span class="kind computed">computed</span> <code>{_e(node.column)}</code>'
    else:
        head = f'<span class="kind">{_e(node.table)}</span>.<code>{_e(node.column)}</code>{label}'
    below = _sources_html(node.sources)
    return f"<li>← {head}{transform}{below}</li>"


def _sources_html(nodes: Sequence[LineageNode]) -> str:
    if not nodes:
        return ""
    return '<ul class="lineage">' + "".join(_source_html(n) for n in nodes) + "</ul>"


def _column_row(table: str, col: CatalogColumn, tree: TableLineage | None) -> str:
    sources = ()
    if tree is not None:
        sources = next((c.sources for c in tree.columns if c.column == col.name), ())
    ident = f"{_e(table)}.{_e(col.name)}"
    toggle = ""
    below = ""
    if sources:
        count = f"{len(sources)} source{'s' if len(sources) > 1 else ''}"
        toggle = (
            f'<button type="button" class="toggle" aria-expanded="false" '
            f'aria-controls="l-{ident}">{count} ▸</button>'
        )
        # A full-width row under the column: the trees are too wide for a cell.
        below = (
            f'<tr class="lineage-row" id="l-{ident}" hidden><td colspan="10">'
            f'<span class="lineage-title">血缘 lineage of <code>{ident}</code></span>'
            f"{_sources_html(sources)}</td></tr>"
        )
    key = ' <span class="key" title="business key 业务主键">主键</span>' if col.business_key else ""
    masking = "" if col.masking == "none" else col.masking
    search = f"{col.name} {col.label} {col.description}".lower()
    return (
        f'<tr class="column" id="c-{ident}" data-search="{_e(search)}">'
        f"<td><code>{_e(col.name)}</code>{key}</td><td>{_e(col.label)}</td><td>{toggle}</td>"
        f"<td><code>{_e(col.sql_type)}</code></td>"
        f'<td class="level-{_e(col.security_level)}">{_e(col.security_level)}</td>'
        f"<td>{_e(_PI[col.pi])}</td><td>{_e(_OPEN[col.open_level])}</td>"
        f"<td>{_e(_SHARE[col.share_level])}</td><td>{_e(masking)}</td>"
        f'<td class="code">{_e(col.code)}</td></tr>{below}'
    )


def _table_section(entry: CatalogTable, tree: TableLineage | None) -> str:
    feeds = ", ".join(entry.feeds) or "—"
    history = f" · history <code>{_e(entry.history_table)}</code>" if entry.history_table else ""
    search = " ".join([entry.name, entry.label, entry.owner, *entry.feeds]).lower()
    rows = "".join(_column_row(entry.name, c, tree) for c in entry.columns)
    return (
        f'<section class="table" id="t-{_e(entry.name)}" data-search="{_e(search)}">'
        f"<h2><code>{_e(entry.name)}</code> {_e(entry.label)} "
        f"{_badge(entry.is_stale, entry.feeds)}</h2>"
        f'<p class="meta">owner 数据责任部门 {_e(entry.owner)} · business key '
        f"<code>{_e(', '.join(entry.business_key))}</code>{history} · feeds 数据来源 "
        f"{_e(feeds)}</p>"
        '<div class="scroll"><table class="columns"><thead><tr><th>column</th><th>中文名</th><th>lineage 血缘</th><th>type</th>'
        "<th>level 分级</th><th>PI 个人信息</th><th>open 开放</th><th>share 共享</th>"
        "<th>masking 脱敏</th><th>code / standard</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def render_page(result: Catalog, trees: dict[str, TableLineage]) -> str:
    """The catalog page as one HTML document (scripts and styles from ``/static``)."""
    toc = "".join(
        f'<li data-table="{_e(t.name)}"><a href="#t-{_e(t.name)}"><code>{_e(t.name)}</code> '
        f"{_e(t.label)}</a></li>"
        for t in result.tables
    )
    sections = "".join(_table_section(t, trees.get(t.name)) for t in result.tables)
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
    recorded = (
        result.lineage_recorded_at.strftime("%Y-%m-%d %H:%M UTC")
        if result.lineage_recorded_at
        else "not recorded (run citybrain catalog --refresh)"
    )
    freshness = (
        '<table class="freshness"><thead><tr><th>feed</th><th>last load (UTC)</th>'
        "<th>age h</th><th>SLA h</th><th>status</th></tr></thead>"
        f"<tbody>{_freshness_rows(result.feeds)}</tbody></table>"
        if result.feeds
        else "<p>No feed has been loaded yet.</p>"
    )
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>数据目录 Data catalog · citybrain</title>
<link rel="stylesheet" href="/static/catalog.css">
</head>
<body>
<header>
<h1>数据目录 Data catalog</h1>
<p>Every table and column of the data standard: Chinese label, owner, classification
(GB/T 43697 grade, personal information), open and share level, masking, freshness, and
where each column comes from. Lineage recorded: {_e(recorded)}.
<a href="/">态势感知 situation page</a></p>
{f'<ul class="notes">{notes}</ul>' if notes else ""}
</header>
<section id="freshness"><h2>数据时效 Freshness</h2>{freshness}</section>
<main>
<nav>
<input id="search" type="search" placeholder="搜索 search tables, columns, 中文名" autocomplete="off">
<p id="match-count" aria-live="polite"></p>
<ul id="toc">{toc}</ul>
</nav>
<div id="tables">{sections}</div>
</main>
<script src="/static/catalog.js"></script>
</body>
</html>
"""


__all__ = ["render_page", "router"]
