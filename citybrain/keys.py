"""The HMAC key of ``person_key`` (DESIGN.md decision 7): from configuration, never code.

``CITYBRAIN_PERSON_KEY`` wins. Without it, a random key is created once in
``$CITYBRAIN_HOME/secrets/person_key`` (mode 0600) and read from there afterwards, so a
demo works with no set-up and every run of one installation derives the same keys.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from schemas.settings import Settings


def key_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "person_key"


def person_key(settings: Settings) -> bytes:
    """The key bytes; creates the key file on first use when no key is configured."""
    if settings.person_key is not None:
        return settings.person_key.get_secret_value().encode()
    path = key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        # O_EXCL: two processes starting at once must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
