"""Bearer tokens of the HTTP endpoint: issued once, kept only as SHA-256 hashes.

A token is 32 random bytes, so a plain SHA-256 is enough to store it: unlike ID numbers
(DESIGN.md decision 7) there is nothing small to brute-force. Principals of the roles file
carry ``token_sha256``; the demo principals get theirs from :func:`issue_tokens`, which
writes the hashes to ``$CITYBRAIN_HOME/secrets/sql_tokens.json`` (mode 0600) and shows
each token once. Lookups compare against every hash in constant time.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from schemas.errors import AccessDenied, ConfigError
from warehouse.governed.policy import Policy, Principal, load_policy, make_principal

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from schemas.settings import Settings

TOKEN_PREFIX = "cbq_"


def token_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "sql_tokens.json"


def token_hash(token: str) -> str:
    """SHA-256 of a token, hex: what is stored and compared.

    >>> token_hash("cbq_example")[:16]
    'f817ff5e3ea32306'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read_store(settings: Settings) -> dict[str, dict[str, str]]:
    path = token_file(settings)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "CITYBRAIN_HOME",
            str(path),
            "a JSON file of token hashes",
            "delete it and run `citybrain sql tokens` to issue new tokens",
        ) from exc
    return {str(k): dict(v) for k, v in data.items()}


def _secrets_folder(settings: Settings) -> Path:
    folder = token_file(settings).parent
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


@contextmanager
def _store_lock(settings: Settings) -> Iterator[None]:
    """Hold the token store for one read-modify-write: two ``citybrain sql tokens`` at
    once would otherwise each write the store they read, and the later drop the other's."""
    _secrets_folder(settings)
    fd = os.open(token_file(settings).with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_store(settings: Settings, store: dict[str, dict[str, str]]) -> None:
    path = token_file(settings)
    _secrets_folder(settings)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(store, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def issue_tokens(
    settings: Settings, *, rotate: Iterable[str] = (), policy: Policy | None = None
) -> dict[str, str]:
    """Issue a token to every configured principal that has none yet (and to ``rotate``).

    Returns the new tokens by principal: the only time they are seen in clear. Principals
    whose hash is in the roles file (``token_sha256``) are left alone.
    """
    policy = policy or load_policy(settings)
    rotate = set(rotate)
    unknown = rotate - set(policy.principals)
    if unknown:
        known = ", ".join(sorted(policy.principals))
        msg = f"no principal named {', '.join(sorted(unknown))}; the principals are: {known}"
        raise AccessDenied(msg)
    issued: dict[str, str] = {}
    with _store_lock(settings):
        store = _read_store(settings)
        for name, principal in sorted(policy.principals.items()):
            if principal.token_sha256 is not None:
                continue
            if name in store and name not in rotate:
                continue
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            issued_at = datetime.now(UTC).isoformat()
            store[name] = {"sha256": token_hash(token), "issued_at": issued_at}
            issued[name] = token
        if issued:
            _write_store(settings, store)
    return issued


def token_status(settings: Settings, policy: Policy | None = None) -> dict[str, str | None]:
    """When each principal's token was issued (``"roles file"`` for configured hashes)."""
    policy = policy or load_policy(settings)
    store = _read_store(settings)
    out: dict[str, str | None] = {}
    for name, principal in sorted(policy.principals.items()):
        if principal.token_sha256 is not None:
            out[name] = "roles file"
        else:
            out[name] = store.get(name, {}).get("issued_at")
    return out


def authenticate(token: str, settings: Settings) -> Principal:
    """The principal a bearer token belongs to; :class:`AccessDenied` for any other token."""
    policy = load_policy(settings)
    store = _read_store(settings)
    wanted = token_hash(token)
    found: str | None = None
    # Every hash is compared, match or not: the time taken says nothing about which.
    for name, principal in sorted(policy.principals.items()):
        stored = principal.token_sha256 or store.get(name, {}).get("sha256")
        if stored is not None and hmac.compare_digest(stored, wanted):
            found = name
    if found is None:
        msg = (
            "the token is not valid: ask an administrator for one "
            "(`citybrain sql tokens` issues the demo principals' tokens)"
        )
        raise AccessDenied(msg)
    config = policy.principals[found]
    return make_principal(policy, config.role, found, config.district_code)
