"""``generate``: the whole simulation, chunk by chunk, streaming to disk.

Layout of the output folder::

    OUT/manifest.json                      every delivery file, its sha256, rows; the params
    OUT/deliveries/<feed>/<file>           exactly as feeds.md says (+ <file>.ok markers)
    OUT/deliveries/credit/authorities.csv  the credit office's directory of authorities
    OUT/truth/<table>/rows/*.parquet       per delivered row: verdict + canonical values
    OUT/truth/<table>/current/*.parquet    per business key: what the lake should hold

Memory stays bounded by the chunk size: a chunk of residents, with the companies,
licences and credit records that belong to them, is generated, delivered and dropped
before the next one. Only the map, the address points and the ID counters span chunks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from feeds.demo_city.context import Context, GenerateParams, build_context
from feeds.demo_city.credit import list_versions, penalty_versions, permit_versions
from feeds.demo_city.entities import entity_versions, initial_entities
from feeds.demo_city.feed_credit import credit_renderers, write_authority_directory
from feeds.demo_city.feed_geospatial import address_renderer, address_versions, write_boundaries
from feeds.demo_city.feed_legal_entity import legal_entity_renderer
from feeds.demo_city.feed_licence import licence_renderer
from feeds.demo_city.feed_population import population_renderer
from feeds.demo_city.licences import licence_versions
from feeds.demo_city.people import initial_persons, person_versions
from feeds.demo_city.render import Renderer, Truth, finish_api, render_chunk
from feeds.demo_city.writers import JsonlSink, Sink

__all__ = ["Progress", "generate"]

MANIFEST_VERSION = 1
# (stage, done, total): the CLI draws its progress bar from these.
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    del stage, done, total


def _sinks(renderers: list[Renderer]) -> dict[str, Sink]:
    sinks: dict[str, Sink] = {}
    for r in renderers:
        for d in r.deliveries:
            if d.path not in sinks:
                sinks[d.path] = r.sink(d)
    return sinks


def _chunk(
    ctx: Context, k: int, renderers: dict[str, Renderer], sinks: dict[str, Sink], truth: Truth
) -> None:
    first, count = ctx.chunk(k)
    persons = initial_persons(ctx, k, first, count)
    entities = entity_versions(ctx, k, initial_entities(ctx, k, persons), persons)
    licences = licence_versions(ctx, k, entities, persons)
    penalties = penalty_versions(ctx, k, entities, persons)
    tables = {
        "person": person_versions(ctx, k, persons),
        "legal_entity": entities,
        "licence": licences,
        "credit_penalty": penalties,
        "credit_permit": permit_versions(ctx, k, licences, entities),
        "credit_list": list_versions(ctx, k, penalties, entities, persons),
    }
    for table, versions in tables.items():
        render_chunk(ctx, renderers[table], k, versions, sinks=sinks, truth=truth)


def generate(params: GenerateParams, progress: Progress | None = None) -> dict[str, Any]:
    """Simulate the city and write every delivery, the ground truth and the manifest.

    Args:
        params: residents, seed, days, output folder, start date, city, dirt profile.
        progress: called as ``progress(stage, done, total)`` while it runs.

    Returns:
        The manifest (also written to ``OUT/manifest.json``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     manifest = generate(GenerateParams(residents=300, seed=1, days=2, out=Path(out)))
        >>> sorted({d["feed"] for d in manifest["deliveries"]})
        ['credit', 'credit_api', 'geospatial', 'legal_entity', 'licence', 'population', 'population_api']
    """
    progress = progress or _no_progress
    out = params.out
    for sub in ("deliveries", "truth", ".staging"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "manifest.json").unlink(missing_ok=True)
    ctx = build_context(params)
    truth = Truth(out / "truth")
    renderers = {
        "person": population_renderer(ctx),
        "legal_entity": legal_entity_renderer(ctx),
        "licence": licence_renderer(ctx),
        "address_point": address_renderer(ctx),
        **credit_renderers(ctx),
    }
    sinks = _sinks(list(renderers.values()))
    boundaries = write_boundaries(ctx, truth)
    directory = write_authority_directory(ctx)
    address = address_versions(ctx)
    address_blocks = max(1, -(-address.height // params.chunk_size))
    total = ctx.n_chunks + address_blocks + 1
    for i in range(address_blocks):
        block = address.filter((pl.col("point") // params.chunk_size) == i)
        render_chunk(ctx, renderers["address_point"], i, block, sinks=sinks, truth=truth)
        progress("addresses", i + 1, total)
    for k in range(ctx.n_chunks):
        _chunk(ctx, k, renderers, sinks, truth)
        progress("residents", address_blocks + k + 1, total)
    for r in renderers.values():
        finish_api(r, sinks, truth)
    for sink in sinks.values():
        if not isinstance(sink, JsonlSink):
            sink.finish()
    shutil.rmtree(out / ".staging", ignore_errors=True)
    manifest = {
        "generator": "citybrain demo_city",
        "manifest_version": MANIFEST_VERSION,
        "params": json.loads(params.model_dump_json()),
        "deliveries": [
            *boundaries.manifest(),
            *directory.manifest(),
            *(e for s in sinks.values() for e in s.manifest()),
        ],
        "truth": _truth_index(out),
    }
    manifest["deliveries"].sort(key=lambda d: (d["feed"], d["delivered_at"], d["path"]))
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    progress("done", total, total)
    return manifest


def _truth_index(out: Path) -> list[dict[str, Any]]:
    rows = []
    for folder in sorted((out / "truth").glob("*/*")):
        files = sorted(folder.glob("*.parquet"))
        rows.append(
            {
                "table": folder.parent.name,
                "kind": folder.name,
                "path": str(folder.relative_to(out)),
                "files": len(files),
                "rows": pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0,
            }
        )
    return rows
