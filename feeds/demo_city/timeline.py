"""When each department delivers what: the calendar of a simulation run.

The run starts with the initial full loads at ``start`` 00:00 (everything that happened
before), then ``days`` days of increments. A delivery's ``seq`` is the order a pipeline
processes the feed's deliveries in; the ground truth's "duplicate" and "stale" verdicts
follow that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

__all__ = ["Delivery", "Timeline"]


@dataclass(frozen=True)
class Delivery:
    """One delivery: a file (or, for API feeds, one day's pull of an API file)."""

    feed: str  # folder under deliveries/
    name: str  # file name in that folder
    kind: str  # full | increment | api | boundaries
    at: datetime  # when it was delivered
    since: datetime  # what it covers: versions with cursor in [since, until)
    until: datetime
    seq: int = 0  # processing order within the feed
    table: str = ""  # the lake table its rows load into

    @property
    def path(self) -> str:
        return f"{self.feed}/{self.name}"


def _month_label(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}"


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


@dataclass(frozen=True)
class Timeline:
    """The simulated calendar.

    >>> t = Timeline(date(2026, 10, 1), 35)
    >>> [d.name for d in t.legal_entity()][:3], t.legal_entity()[-1].name
    (['scjg_sczt_full_202610.csv', 'scjg_sczt_20261001.csv', 'scjg_sczt_20261002.csv'], 'scjg_sczt_20261104.csv')
    >>> [d.name for d in t.licence()]
    ['dzzz_202609.xlsx', 'dzzz_202610.xlsx']
    """

    start: date
    days: int

    @property
    def t0(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def end(self) -> datetime:
        """End of the simulated window (exclusive): the moment the run 'is now'."""
        return self.t0 + timedelta(days=self.days)

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @property
    def epoch(self) -> datetime:
        return datetime(1900, 1, 1)

    def _ordered(self, deliveries: list[Delivery]) -> list[Delivery]:
        ordered = sorted(deliveries, key=lambda d: (d.at, d.name))
        return [
            Delivery(d.feed, d.name, d.kind, d.at, d.since, d.until, i, d.table)
            for i, d in enumerate(ordered)
        ]

    def _full(
        self, feed: str, name: str, cut: datetime, table: str, kind: str = "full"
    ) -> Delivery:
        """A snapshot of everything before ``cut`` (a midnight), exported an hour later:
        after the previous day's increments."""
        return Delivery(feed, name, kind, cut + timedelta(hours=1), self.epoch, cut, table=table)

    def _daily(
        self, feed: str, name: str, d: date, table: str, kind: str = "increment"
    ) -> Delivery:
        """What happened on day ``d``, delivered at its end."""
        since = datetime.combine(d, time())
        until = since + timedelta(days=1)
        return Delivery(feed, name, kind, until, since, until, table=table)

    def population(self) -> list[Delivery]:
        """Initial full export, a full export every 1 January, and daily API pulls."""
        out = [self._full("population", f"gaj_rk_full_{self.start:%Y%m%d}.csv", self.t0, "person")]
        for d in self.dates:
            if d.month == 1 and d.day == 1 and d != self.start:
                at = datetime.combine(d, time())
                out.append(self._full("population", f"gaj_rk_full_{d:%Y%m%d}.csv", at, "person"))
            out.append(self._daily("population_api", "persons.jsonl", d, "person", kind="api"))
        return self._ordered(out)

    def legal_entity(self) -> list[Delivery]:
        """Monthly full exports (at the start and each 1st), daily increments."""
        table = "legal_entity"
        out = [self._full(table, f"scjg_sczt_full_{_month_label(self.start)}.csv", self.t0, table)]
        for d in self.dates:
            if d.day == 1 and d != self.start:
                at = datetime.combine(d, time())
                out.append(self._full(table, f"scjg_sczt_full_{_month_label(d)}.csv", at, table))
            out.append(self._daily(table, f"scjg_sczt_{d:%Y%m%d}.csv", d, table))
        return self._ordered(out)

    def geospatial(self) -> list[Delivery]:
        """Boundaries and the full address list at the start, daily address increments."""
        out = [
            self._full("geospatial", f"boundaries_{self.start:%Y%m%d}.geojson", self.t0, "area", kind="boundaries"),
            self._full("geospatial", f"address_{self.start:%Y%m%d}.csv", self.t0, "address_point"),
        ]  # fmt: skip
        for d in self.dates:
            # Named for the morning it is exported, so that the first increment does not
            # take the initial full file's name.
            name = f"address_{d + timedelta(days=1):%Y%m%d}.csv"
            out.append(self._daily("geospatial", name, d, "address_point"))
        return self._ordered(out)

    def credit(self, endpoint: str, table: str) -> list[Delivery]:
        """The whole backlog in the first pull, then one pull per day."""
        name = f"{endpoint}.jsonl"
        out = [self._full("credit_api", name, self.t0, table, kind="api")]
        out += [self._daily("credit_api", name, d, table, kind="api") for d in self.dates]
        return self._ordered(out)

    def licence(self) -> list[Delivery]:
        """The backlog as the export of the month before the start, then one export per
        month that closes inside the window (delivered on its last day)."""
        prev = date(self.start.year, self.start.month, 1) - timedelta(days=1)
        out = [self._full("licence", f"dzzz_{_month_label(prev)}.xlsx", self.t0, "licence")]
        month = date(self.start.year, self.start.month, 1)
        while (closes := datetime.combine(_next_month(month), time())) <= self.end:
            since = max(self.t0, datetime.combine(month, time()))
            name = f"dzzz_{_month_label(month)}.xlsx"
            out.append(
                Delivery("licence", name, "increment", closes, since, closes, table="licence")
            )
            month = _next_month(month)
        return self._ordered(out)
