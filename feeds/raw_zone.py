"""The raw zone: every delivery kept exactly as received, before any parsing.

DESIGN.md decision 3 ("Raw first"): any batch can be re-normalized later from these bytes.
Deliveries are content-addressed, so storing the same bytes twice is a no-op that hands
back the ``RawDelivery`` stored the first time (same sha256, same batch id, same time).

Layout under ``$CITYBRAIN_HOME/raw`` (``Settings.raw_dir``)::

    <feed>/<resource>/<sha256>/          one delivery: it appears whole or not at all
        <file name as received>          the bytes (a file drop), or
        page-000001.json ...             one file per API page, in order
        <stem>.utf-8<suffix>             UTF-8 copy of a GBK/GB18030 text file
        pages.jsonl                      API pulls: each page's URL, sha256 and item count
        delivery.json                    the RawDelivery
    <feed>/<resource>/_staging/<id>/     a delivery being stored, renamed into place whole
    <feed>/<resource>/_inflight/<key>/   an API pull in progress: its good pages + state.json
    <feed>/<resource>/_inflight/<key>.lock   held while that pull runs (one at a time)
    <feed>/<resource>/_seen/<key>.json   source path, size, mtime -> sha256 of stored files

Files can be gigabytes: bytes are copied and hashed in chunks, never read whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from feeds.delivery import RawDelivery
from schemas.errors import SourceUnavailable
from schemas.settings import Settings, get_settings

__all__ = [
    "CHUNK_SIZE",
    "DELIVERY_FILE",
    "PAGES_FILE",
    "EarlyWriteback",
    "InFlight",
    "RawZone",
    "Staging",
    "combined_sha256",
    "sha256_file",
    "write_atomic",
]

logger = logging.getLogger(__name__)

DeliveryFormat = Literal["csv", "xlsx", "geojson", "json_pages"]
CHUNK_SIZE = 1 << 20  # module-level so tests can shrink it to cross chunk boundaries
DELIVERY_FILE = "delivery.json"
PAGES_FILE = "pages.jsonl"
STATE_FILE = "state.json"
# A staging folder this old belongs to a process that died; nothing will commit it.
_STALE_SECONDS = 24 * 3600


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def combined_sha256(page_hashes: list[str]) -> str:
    """The hash of an API pull: sha256 over its pages' sha256 digests, in order.

    >>> combined_sha256(["00" * 32]) == hashlib.sha256(bytes(32)).hexdigest()
    True
    """
    return hashlib.sha256(b"".join(bytes.fromhex(h) for h in page_hashes)).hexdigest()


def _fsync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _writeback_starter() -> Callable[[int, int, int], bool]:
    """``start(fd, offset, length)``: start writing a file's range to disk, not waiting;
    whether it could.

    A large copy then reaches the disk while it is still being made, and its closing fsync
    waits only for the last stretch: a 1 GB delivery's fsync took 0.3-0.45 s on its own.
    The pages stay cached for the normalize step that reads them next. Linux's
    ``sync_file_range(SYNC_FILE_RANGE_WRITE)``; elsewhere nothing (the fsync does it all).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (AttributeError, OSError):
        return lambda fd, offset, length: False
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start(fd: int, offset: int, length: int) -> bool:
        # Advisory: where it fails, the fsync that closes the file does all the work.
        return call(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0

    return start


_SYNC_FILE_RANGE_WRITE = 2
#: Bytes written between two starts of writeback (a few chunks: few calls, an early start).
WRITEBACK_BYTES = 16 << 20
start_writeback = _writeback_starter()


class EarlyWriteback:
    """Sends a file being written to the disk as it grows (see :func:`_writeback_starter`).

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as handle:
    ...     early = EarlyWriteback(handle)
    ...     _ = handle.write(bytes(WRITEBACK_BYTES))
    ...     early.wrote(WRITEBACK_BYTES)
    ...     early.sent
    16777216
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sent = 0  # bytes whose writeback has been started

    def wrote(self, size: int) -> None:
        """The file now holds ``size`` bytes: start writing back what is not on its way."""
        if size - self.sent >= WRITEBACK_BYTES:
            self.handle.flush()
            start_writeback(self.handle.fileno(), self.sent, size - self.sent)
            self.sent = size


class ReadOnce:
    """Hands a file's pages back to the kernel as it is read, a stretch at a time.

    A delivery is read once to be copied into the raw zone (and a GBK copy once more, to be
    transcoded), and the next task reads the copy: the pages read stay cached for nothing,
    while the copy needs as many again. Given back as they are read, they are the ones
    the copy gets. On this project's 2-core VMs, whose balloon reports free memory to the
    host, pages the kernel has to find afresh are dear: pulling the 5M-resident population
    export (1 GB, cached when it arrives) took 1.28-1.50 s this way against 1.68-2.89 s,
    system time 0.4-0.6 CPU-s against 0.8-2.0 (six pulls each). Only clean pages go, and
    nothing of the file changes. Linux's ``posix_fadvise(POSIX_FADV_DONTNEED)``; elsewhere
    nothing.

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as handle:
    ...     _ = handle.write(bytes(RELEASE_BYTES + 10))
    ...     once = ReadOnce(handle)
    ...     once.read(10)  # too little to make a call for
    ...     first = once.released
    ...     once.read(RELEASE_BYTES + 10)
    ...     once.finish()
    >>> first, once.released
    (0, 16777226)
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.fd = handle.fileno()
        self.released = 0  # bytes from the start whose pages were given back

    def read(self, size: int) -> None:
        """The first ``size`` bytes have been read: give back what is not given back yet."""
        if size - self.released >= RELEASE_BYTES:
            _release(self.fd, self.released, size - self.released)
            self.released = size

    def finish(self) -> None:
        """The whole file has been read: give back the rest."""
        _release(self.fd, self.released, 0)


def _release(fd: int, offset: int, length: int) -> None:
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # advisory: a file system may not take it
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


#: Bytes read between two hand-backs (as for writeback: few calls, an early start).
RELEASE_BYTES = 16 << 20


def _fsync_dir(path: Path) -> None:
    # A rename is only durable once its directory is synced; best effort where a
    # filesystem does not allow opening directories.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old content or all of the new."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            _fsync(handle)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _load_delivery(folder: Path) -> RawDelivery | None:
    path = folder / DELIVERY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    stored = RawDelivery.model_validate_json(text)
    # Paths are rebased on the folder actually read, so moving CITYBRAIN_HOME keeps
    # every stored delivery readable.
    return stored.model_copy(
        update={
            "raw_paths": tuple(folder / p.name for p in stored.raw_paths),
            "text_path": folder / stored.text_path.name if stored.text_path else None,
        }
    )


def _sweep(folder: Path) -> None:
    if not folder.is_dir():
        return
    cutoff = time.time() - _STALE_SECONDS
    for child in folder.iterdir():
        with contextlib.suppress(OSError):
            if child.stat().st_mtime < cutoff:
                logger.info("removing stale staging folder %s", child)
                shutil.rmtree(child, ignore_errors=True)


class RawZone:
    """The raw zone rooted at one folder (``Settings.raw_dir`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RawZone:
        return cls((settings or get_settings()).raw_dir)

    def resource_dir(self, feed: str, resource: str) -> Path:
        return self.root / feed / resource

    def delivery_dir(self, feed: str, resource: str, sha256: str) -> Path:
        return self.resource_dir(feed, resource) / sha256

    def find(self, feed: str, resource: str, sha256: str) -> RawDelivery | None:
        """The stored delivery with this content hash, if any."""
        return _load_delivery(self.delivery_dir(feed, resource, sha256))

    def deliveries(self, feed: str, resource: str) -> list[RawDelivery]:
        """Every stored delivery of a resource, oldest first."""
        root = self.resource_dir(feed, resource)
        if not root.is_dir():
            return []
        found = [
            d
            for child in root.iterdir()
            if not child.name.startswith("_") and (d := _load_delivery(child)) is not None
        ]
        return sorted(found, key=lambda d: (d.received_at, d.sha256))

    def stage(self, feed: str, resource: str) -> Staging:
        """A private folder to assemble one delivery in; see :class:`Staging`."""
        staging_root = self.resource_dir(feed, resource) / "_staging"
        _sweep(staging_root)
        return Staging(self, feed, resource, staging_root / uuid.uuid4().hex)

    def store_file(
        self,
        feed: str,
        resource: str,
        path: Path,
        *,
        format: DeliveryFormat,
        source: str | None = None,
        encoding: str | None = None,
    ) -> RawDelivery:
        """Store one file as received; the same bytes twice return the first delivery.

        Example::

            zone = RawZone(settings.raw_dir)
            first = zone.store_file("geospatial", "boundaries", path, format="geojson")
            assert zone.store_file("geospatial", "boundaries", path, format="geojson") == first
        """
        with self.stage(feed, resource) as staged:
            sha, _ = staged.copy_in(path)
            if (existing := self.find(feed, resource, sha)) is not None:
                return existing
            final = self.delivery_dir(feed, resource, sha)
            return staged.commit(
                RawDelivery(
                    feed=feed,
                    resource=resource,
                    sha256=sha,
                    source=source or str(path),
                    raw_paths=(final / path.name,),
                    format=format,
                    encoding=encoding,
                    received_at=_now(),
                )
            )

    # --- what was already stored, by source path: re-pulling a folder re-hashes nothing

    def _seen_path(self, feed: str, resource: str, source: Path) -> Path:
        key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:32]
        return self.resource_dir(feed, resource) / "_seen" / f"{key}.json"

    @staticmethod
    def _fingerprint(source: Path) -> dict[str, Any]:
        st = source.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}

    def recall(self, feed: str, resource: str, source: Path) -> RawDelivery | None:
        """The delivery stored from ``source`` if the file is unchanged since then."""
        try:
            seen = json.loads(self._seen_path(feed, resource, source).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if seen.get("fingerprint") != self._fingerprint(source):
            return None
        return self.find(feed, resource, seen["sha256"])

    def remember(self, feed: str, resource: str, source: Path, sha256: str) -> None:
        path = self._seen_path(feed, resource, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "source": str(source.resolve()),
            "fingerprint": self._fingerprint(source),
            "sha256": sha256,
        }
        write_atomic(path, json.dumps(record).encode())

    def inflight(self, feed: str, resource: str, key_parts: list[Any]) -> InFlight:
        """The in-progress folder of an API pull identified by ``key_parts``."""
        key = hashlib.sha256(json.dumps(key_parts, ensure_ascii=False).encode()).hexdigest()
        return InFlight(self, feed, resource, key[:24], key_parts)


def _now() -> datetime:
    return datetime.now(UTC)


class Staging:
    """One delivery being assembled; it enters the zone whole at :meth:`commit`.

    Used as a context manager: a staging folder that was not committed (an error, a
    duplicate) is removed on exit, so a crash never leaves a half-written delivery where
    readers look.
    """

    def __init__(self, zone: RawZone, feed: str, resource: str, folder: Path) -> None:
        self.zone, self.feed, self.resource, self.dir = zone, feed, resource, folder
        self.dir.mkdir(parents=True)
        self._done = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._done:
            shutil.rmtree(self.dir, ignore_errors=True)

    def copy_in(
        self,
        source: Path,
        name: str | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> tuple[str, int]:
        """Copy ``source`` in chunk by chunk, hashing as it goes; returns (sha256, size).

        ``on_chunk`` sees every chunk too (encoding probes, line counts) so a file is read
        once however many things are learnt from it.
        """
        digest = hashlib.sha256()
        size = 0
        before = source.stat().st_size
        target = self.dir / (name or source.name)
        # sha256 releases the GIL, so a second thread hashes each chunk while this one
        # writes and probes it: the pass takes about the longer of the two, not the sum.
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher,
            source.open("rb") as src,
            target.open("wb") as dst,
        ):
            early, once = EarlyWriteback(dst), ReadOnce(src)
            while chunk := src.read(CHUNK_SIZE):
                hashed = hasher.submit(digest.update, chunk)
                dst.write(chunk)
                size += len(chunk)
                early.wrote(size)
                once.read(size)
                if on_chunk is not None:
                    on_chunk(chunk)
                hashed.result()
            once.finish()
            _fsync(dst)
        if size != before or source.stat().st_size != before:
            raise SourceUnavailable(
                self.feed,
                None,
                f"{source}: {before} bytes when opened, {size} read",
                "a complete file; it changed while being read (is the department still "
                "writing it despite its .ok marker?), so the pull will retry",
            )
        return digest.hexdigest(), size

    def path(self, name: str) -> Path:
        """Where a file named ``name`` is while staged."""
        return self.dir / name

    def final_dir(self, sha256: str) -> Path:
        """Where the delivery's files will be once committed (for RawDelivery paths)."""
        return self.zone.delivery_dir(self.feed, self.resource, sha256)

    def commit(self, delivery: RawDelivery) -> RawDelivery:
        """Move the staged folder into place as ``<sha256>/``, atomically.

        If another process stored the same content meanwhile, its delivery wins and is
        returned, so both callers see one delivery.
        """
        final = self.final_dir(delivery.sha256)
        write_atomic(self.dir / DELIVERY_FILE, delivery.model_dump_json(indent=2).encode())
        try:
            self.dir.rename(final)
        except OSError:
            existing = _load_delivery(final)
            if existing is not None:
                return existing  # __exit__ removes our copy
            # Folders appear whole, so one without delivery.json was damaged by hand.
            logger.warning("replacing %s: it has no %s", final, DELIVERY_FILE)
            shutil.rmtree(final)
            self.dir.rename(final)
        self._done = True
        _fsync_dir(final.parent)
        return _load_delivery(final) or delivery


class InFlight:
    """An API pull in progress: the good pages so far and where to continue.

    Each good page is written (atomically) before the pull moves on, then one line is
    appended to ``pages.jsonl`` and the small ``state.json`` is replaced. A crash between
    those steps leaves at most one page that the state does not count; it is fetched and
    written again on resume, and the manifest is cut back to the state's page count, so
    no page is ever kept twice.

    Holds an exclusive lock while open: two pulls of the same query at once would
    interleave their pages.
    """

    def __init__(
        self, zone: RawZone, feed: str, resource: str, key: str, key_parts: list[Any]
    ) -> None:
        self.zone, self.feed, self.resource = zone, feed, resource
        root = zone.resource_dir(feed, resource) / "_inflight"
        self.dir = root / key
        self.key_parts = key_parts
        root.mkdir(parents=True, exist_ok=True)
        self._lock: IO[bytes] | None = None
        self.state: dict[str, Any] | None = None

    def __enter__(self) -> InFlight:
        lock = (self.dir.parent / f"{self.dir.name}.lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise SourceUnavailable(
                self.feed,
                None,
                f"another pull of {self.key_parts} is running (lock on {self.dir}.lock)",
                "one pull per query at a time; retry when it has finished",
            ) from None
        self._lock = lock
        self.dir.mkdir(exist_ok=True)
        self.state = self._read_state()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    @property
    def resumed(self) -> bool:
        return self.state is not None and self.state["pages"] > 0

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads((self.dir / STATE_FILE).read_text("utf-8"))
        except FileNotFoundError:
            return None
        if state.get("key") != self.key_parts:
            raise ValueError(f"{self.dir}: state of another query: {state.get('key')}")
        self._trim_manifest(state["pages"])
        return state

    def _trim_manifest(self, pages: int) -> None:
        manifest = self.dir / PAGES_FILE
        if not manifest.exists():
            return
        lines = manifest.read_bytes().splitlines(keepends=True)
        if len(lines) != pages:
            write_atomic(manifest, b"".join(lines[:pages]))

    def page_entries(self) -> list[dict[str, Any]]:
        manifest = self.dir / PAGES_FILE
        if not manifest.exists():
            return []
        return [json.loads(line) for line in manifest.read_text("utf-8").splitlines() if line]

    def completed(self) -> RawDelivery | None:
        """A pull that finished but crashed before its folder moved into place."""
        delivery = _load_delivery(self.dir)
        if delivery is None:
            return None
        return self._move_into_place(delivery)

    def begin(self, state: dict[str, Any]) -> dict[str, Any]:
        """Start afresh with ``state`` (anything JSON; ``pages`` is added)."""
        for child in self.dir.iterdir():
            child.unlink()
        self.state = {**state, "key": self.key_parts, "pages": 0}
        self._write_state()
        return self.state

    def add_page(self, body: bytes, entry: dict[str, Any], update: dict[str, Any]) -> None:
        """Keep one good page, then record where the pull goes next (``update``)."""
        assert self.state is not None, "begin() first"
        number = self.state["pages"] + 1
        name = f"page-{number:06d}.json"
        write_atomic(self.dir / name, body)
        line = {"file": name, "sha256": hashlib.sha256(body).hexdigest(), **entry}
        with (self.dir / PAGES_FILE).open("ab") as manifest:
            manifest.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            _fsync(manifest)
        self.state = {**self.state, **update, "pages": number}
        self._write_state()

    def _write_state(self) -> None:
        data = json.dumps(self.state, ensure_ascii=False, indent=1).encode()
        write_atomic(self.dir / STATE_FILE, data)

    def finish(self, build: Callable[[str, tuple[Path, ...]], RawDelivery]) -> RawDelivery:
        """Turn the pages into a delivery: ``build(sha256, final page paths)`` makes it."""
        entries = self.page_entries()
        sha = combined_sha256([e["sha256"] for e in entries])
        final = self.zone.delivery_dir(self.feed, self.resource, sha)
        delivery = build(sha, tuple(final / e["file"] for e in entries))
        write_atomic(self.dir / DELIVERY_FILE, delivery.model_dump_json(indent=2).encode())
        # From here the folder is a complete delivery: a crash before the rename is
        # finished by completed() on the next pull, never fetched again.
        (self.dir / STATE_FILE).unlink()
        return self._move_into_place(delivery)

    def _move_into_place(self, delivery: RawDelivery) -> RawDelivery:
        final = self.zone.delivery_dir(self.feed, self.resource, delivery.sha256)
        existing = _load_delivery(final)
        if existing is not None:
            shutil.rmtree(self.dir)
            return existing
        if final.exists():
            logger.warning("replacing %s: it has no %s", final, DELIVERY_FILE)
            shutil.rmtree(final)
        self.dir.rename(final)
        _fsync_dir(final.parent)
        self.state = None
        return _load_delivery(final) or delivery

    def abandon(self) -> None:
        """Forget the saved pages (the server no longer accepts the saved position)."""
        for child in self.dir.iterdir():
            child.unlink()
        self.state = None
