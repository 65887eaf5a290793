"""One error hierarchy for the whole project.

Messages name the feed, the field, the value received and what was expected, so that the
person reading a failed Airflow task log can fix the input without reading our code.
``TransientError`` marks what a retry can fix (a 503, a locked catalog); everything else
is terminal and a task wrapper maps it to a failure without retries.

Bulk rows never raise: a bad value becomes a reason code on a quarantined row. These
exceptions are for specs, configuration, deliveries and the lake itself.
"""

from __future__ import annotations

from typing import Any


class CitybrainError(Exception):
    """Root of every error citybrain raises on purpose."""


class TransientError(CitybrainError):
    """A retry may succeed: the source or the lake was busy, slow or briefly away."""


class TerminalError(CitybrainError):
    """A retry will not help: the input, the spec or the configuration must change."""


class ConfigError(TerminalError):
    """A setting is missing or invalid.

    >>> str(ConfigError("CITYBRAIN_LAKE_CATALOG", "mysql://x", "a SQLite path or postgres:// URL"))
    "setting CITYBRAIN_LAKE_CATALOG: received 'mysql://x'; expected a SQLite path or postgres:// URL"
    """

    def __init__(self, setting: str, value: Any, expected: str, hint: str = "") -> None:
        self.setting, self.value, self.expected = setting, value, expected
        msg = f"setting {setting}: received {value!r}; expected {expected}"
        super().__init__(f"{msg}. {hint}" if hint else msg)


class SpecError(TerminalError):
    """A feed spec, schema or code table contradicts itself."""


class SourceError(CitybrainError):
    """A delivery could not be read as its contract says.

    >>> str(SourceError("population", "GXSJ", "2021-13-01", "yyyy-MM-dd HH:mm:ss"))
    "feed population, field GXSJ: received '2021-13-01'; expected yyyy-MM-dd HH:mm:ss"
    """

    def __init__(self, feed: str, field: str | None, value: Any, expected: str) -> None:
        self.feed, self.field, self.value, self.expected = feed, field, value, expected
        where = f"feed {feed}, field {field}" if field else f"feed {feed}"
        super().__init__(f"{where}: received {value!r}; expected {expected}")


class SourceUnavailable(SourceError, TransientError):
    """The department's server or exchange folder did not answer as it should; retry later."""


class ContractViolation(SourceError, TerminalError):
    """The delivery breaks the feed contract as a whole (missing header, wrong format)."""


class LakeError(CitybrainError):
    """The lake could not be opened, created or written."""


class LakeBusy(LakeError, TransientError):
    """The catalog was locked or a commit conflicted; the write is retried with backoff."""


class QueryRefused(TerminalError):
    """A governed query was refused by policy; the message says which rule and why.

    ``reason`` is a short stable code (``table.not_allowed``, ``function.not_allowed`` ...)
    for programs and the audit log; the message is for the person who asked, and says
    what is allowed instead.

    >>> err = QueryRefused("table.not_allowed", "role public may not read core.person")
    >>> err.reason, str(err)
    ('table.not_allowed', 'role public may not read core.person')
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason, self.message = reason, message
        super().__init__(message)


class AccessDenied(TerminalError):
    """A caller could not be authenticated (unknown token) or named an unknown role."""
