"""The one entry point of a pull: a feed, a resource, a source; deliveries in the raw zone.

``pull`` is what the DAGs' pull task and ``citybrain ingest`` call. It returns pointers
(``RawDelivery``), never frames: they travel through XCom (DESIGN.md decision 8).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.connectors.files import pull_files
from feeds.delivery import RawDelivery
from feeds.raw_zone import RawZone
from feeds.spec import FileDropTransport, HttpCursorTransport, HttpPageTransport, feed
from schemas.errors import ConfigError, SourceUnavailable, SpecError
from schemas.settings import Settings, get_settings

if TYPE_CHECKING:
    import httpx

__all__ = ["pull"]

logger = logging.getLogger(__name__)


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def pull(
    spec_name: str,
    resource: str,
    source: str | None = None,
    *,
    since: str | None = None,
    settings: Settings | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> list[RawDelivery]:
    """Pull one resource of a feed into the raw zone and return its deliveries.

    Args:
        spec_name: the feed (``population``, ``legal_entity``, ...).
        resource: the resource of that feed (``persons``, ``entities``, ...).
        source: an exchange folder or one file (the file-drop transport), or an
            http(s) base URL (the API transport). None pulls every transport of the
            resource from its configured place: ``CITYBRAIN_DROP_DIR/<feed>`` and
            ``CITYBRAIN_<FEED>_API_URL``, file drop first (the population's yearly full
            file before its daily API increments).
        since: the watermark. An API is asked for records updated since then; files
            dated (by name) before that day are skipped.
        settings: defaults to :func:`schemas.settings.get_settings` (read now).
        client, sleep, rng: injected by tests (an httpx client, a no-wait sleep).

    Returns:
        The deliveries, in the order pulled. Content already in the raw zone comes back
        as the delivery stored then (same batch id), so a re-pull loads nothing twice.

    Example::

        deliveries = pull("legal_entity", "entities", "/exchange/scjg", since="2024-03-01")
        frames = [read_delivery(d) for d in deliveries]
    """
    settings = settings or get_settings()
    spec = feed(spec_name)
    by_name = {r.name: r for r in spec.resources}
    if resource not in by_name:
        known = ", ".join(by_name)
        raise SpecError(f"feed {spec.name} has no resource {resource!r}; known: {known}")
    res = by_name[resource]
    zone = RawZone(settings.raw_dir)
    drops = [t for t in res.transports if isinstance(t, FileDropTransport)]
    apis = [t for t in res.transports if isinstance(t, HttpPageTransport | HttpCursorTransport)]

    def from_files(where: Path) -> list[RawDelivery]:
        return pull_files(spec, res, drops[0], where, since=since, zone=zone)

    def from_api(base_url: str) -> list[RawDelivery]:
        # httpx costs ~0.15 s to import; a file drop never needs it.
        from feeds.connectors.http import pull_http

        delivery = pull_http(
            spec,
            res,
            apis[0],
            base_url,
            since=since,
            settings=settings,
            zone=zone,
            client=client,
            sleep=sleep,
            rng=rng,
        )
        return [delivery]

    if source is not None:
        if _is_url(source):
            if not apis:
                raise ConfigError(
                    "source", source, f"a folder or file: {spec.name}/{resource} is a file drop"
                )
            return from_api(source)
        if not drops:
            raise ConfigError("source", source, f"an http(s) URL: {spec.name}/{resource} is an API")
        return from_files(Path(source))

    deliveries: list[RawDelivery] = []
    if drops:
        folder = settings.drop_dir / spec.name
        if not apis and not folder.is_dir():
            raise SourceUnavailable(
                spec.name,
                None,
                str(folder),
                "the feed's exchange folder: CITYBRAIN_DROP_DIR/<feed> (is it mounted, or "
                "has the demo city been generated?); or pass a source",
            )
        if apis and not folder.is_dir():
            # The file drop of a feed that also has an API only carries the rare full
            # export; its folder not being there is normal between full loads.
            logger.info(
                "%s/%s: no drop folder %s; pulling the API only", spec.name, resource, folder
            )
        else:
            deliveries += from_files(folder)
    if apis:
        from feeds.connectors.http import api_base_url

        deliveries += from_api(api_base_url(settings, spec.name))
    return deliveries
