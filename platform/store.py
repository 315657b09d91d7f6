"""The SQL store: served recommendations, feedback events and user profiles.

SQLAlchemy Core over any URL: an SQLite file by default, PostgreSQL in production
(`postgresql+psycopg://user:pass@host/db`). Tables are created on first use.

    recommendations  one row per answered /v1/recommend: who, which A/B variant and
                     strategy, which items in which order, and each shown item's
                     propensity (platform/exploration.py; NULL in a log written before
                     propensities were logged: such rows are left out of off-policy
                     estimates, never guessed)
    feedback         one row per /v1/feedback event, referencing its recommendation;
                     `event_key` (a client's Idempotency-Key) is unique: a replayed
                     event is stored once and its profile counted once
    user_profiles    per (user, item): events, satisfaction and engagement sums;
                     updated in the same transaction as the feedback row, so a
                     profile never disagrees with the events it summarises
    user_affect      per user: the sums the affect history needs (platform/user_history.py),
                     updated with each recommendation and each feedback event in their
                     own transactions, so the learned ranker reads one row per request
                     instead of replaying the user's log; it keeps counting what pruning
                     deletes, as the summary of a history that outlives its rows

`record_feedback` returns only after the commit, so an acknowledged event is stored.
A database that is down, locked past `timeout_s` or unreachable raises
StoreUnavailable (the API's 503), never a generic error; the engine reconnects on its
own when the database comes back.
"""
from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, event, exists,
                        func, insert, inspect, select, text)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from mmei.platform.errors import UserInputError
from mmei.platform.user_history import AffectHistory, replay

metadata = MetaData()
recommendations = Table(
    "recommendations", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False, index=True),
    Column("variant", String(64), nullable=False),
    Column("strategy", String(32), nullable=False),
    Column("items", Text, nullable=False),  # JSON list of item ids, in rank order
    Column("emotion", String(64)),
    Column("intent", String(64)),
    Column("created_at", Float, nullable=False, index=True),
    # JSON list: the items whose target emotion was the recognised mood (None: not known)
    Column("matched_items", Text, nullable=True),
    # JSON list: π0(items[p] at p), the logging policy's probability of each shown item at its position
    Column("propensities", Text, nullable=True),
)
feedback = Table(
    "feedback", metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("user_id", String(128), nullable=False, index=True),
    Column("variant", String(64), nullable=False),
    Column("item_id", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("engagement_seconds", Float, nullable=False),
    Column("satisfaction", Integer, nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("event_key", String(128), nullable=True),  # the client's Idempotency-Key; unique (index below)
)
EVENT_KEY_INDEX = "ix_feedback_event_key_unique"
user_profiles = Table(
    "user_profiles", metadata,
    Column("user_id", String(128), primary_key=True),
    Column("item_id", String(128), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("satisfaction_sum", Float, nullable=False),
    Column("engagement_sum", Float, nullable=False),
)
user_affect = Table(
    "user_affect", metadata,
    Column("user_id", String(128), primary_key=True),
    Column("shown", Integer, nullable=False),  # items shown
    Column("outcome_sum", Float, nullable=False),  # satisfaction over every feedback event
    Column("matched", Integer, nullable=False),  # items shown whose target emotion was the mood
    Column("matched_outcome_sum", Float, nullable=False),  # satisfaction given to those
)
AFFECT_SUMS = ("shown", "outcome_sum", "matched", "matched_outcome_sum")


class StoreError(UserInputError):
    """A store URL that cannot be opened."""


class UnknownRequest(LookupError):
    """Feedback names a request_id this store never served."""


class NotRecommended(ValueError):
    """Feedback names an item that its request did not return."""


class StoreUnavailable(RuntimeError):
    """The database is down, unreachable, or locked past the store's timeout.

    Its message is what a client may see ("store unavailable"); `detail` holds the
    driver's text (hosts, ports), which goes to the operator's log only."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def safe_url(url: str) -> str:
    """The URL as it may be printed: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable store URL>"


class KeyReused(ValueError):
    """An Idempotency-Key sent again with a different event."""


F = TypeVar("F", bound=Callable[..., Any])


def unavailable_on_database_errors(method: F) -> F:
    """Database outages become StoreUnavailable; a client's mistake stays what it is."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (OperationalError, PoolTimeout) as error:
            raise StoreUnavailable("store unavailable", str(getattr(error, "orig", error) or error)) from None
        except DBAPIError as error:
            if error.connection_invalidated:
                raise StoreUnavailable("store connection lost", str(error.orig)) from None
            raise
    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class ProfileEntry:
    item_id: str
    events: int
    mean_satisfaction: float
    mean_engagement: float


def _sqlite_pragmas(timeout_ms: int):
    def apply(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; fast commits
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")  # a lock held longer is StoreUnavailable
        cursor.close()
    return apply


def resolve_url(url: str) -> str:
    """`env:NAME` reads the URL from that environment variable where the store opens
    (a Serve replica), so a database password lives in a Kubernetes Secret, never in
    a Serve config or a manifest."""
    if not url.startswith("env:"):
        return url
    name = url[len("env:"):]
    if not os.environ.get(name):
        raise StoreError(f"store URL {safe_url(url)!r}: environment variable {name} is not set here")
    return os.environ[name]


def check_exists(url: str) -> None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        path = url[len(prefix):]
        if not os.path.isfile(path):
            raise StoreError(f"store {safe_url(url)!r}: no database file at {path} (a typo? the serving store is "
                             f"where `store_url` pointed)")


def open_engine(url: str, timeout_s: float = 10.0, pool_size: int = 5, max_overflow: int = 10,
                pool_recycle_s: int = 1800) -> Engine:
    """An engine whose every wait is bounded by `timeout_s`: connecting, waiting for a
    pooled connection, a statement, a lock."""
    url = resolve_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        milliseconds = int(timeout_s * 1000)
        options.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=pool_recycle_s,
                       pool_timeout=timeout_s,
                       connect_args={"connect_timeout": max(1, math.ceil(timeout_s)),
                                     "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"})
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreError(f"store URL {safe_url(url)!r} cannot be opened: "
                         f"{str(error).replace(url, safe_url(url))}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(int(timeout_s * 1000)))
    return engine


def _upsert_add(connection, table: Table, keys: dict[str, Any], increments: dict[str, float]) -> None:
    """Add to a row's sums, creating it at these values if absent: atomic on SQLite and
    PostgreSQL (INSERT ... ON CONFLICT DO UPDATE); elsewhere read-then-write inside the
    caller's transaction."""
    where = [table.c[name] == value for name, value in keys.items()]
    if connection.dialect.name in ("postgresql", "sqlite"):
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(table).values(**keys, **increments)
        connection.execute(statement.on_conflict_do_update(
            index_elements=list(keys), set_={name: table.c[name] + value for name, value in increments.items()}))
        return
    row = connection.execute(select(table).where(*where)).first()
    if row is None:
        connection.execute(insert(table).values(**keys, **increments))
    else:
        connection.execute(table.update().where(*where).values(
            **{name: getattr(row, name) + value for name, value in increments.items()}))


def _upsert_profile(connection, user_id: str, item_id: str, satisfaction: int, engagement: float) -> None:
    """Add one event to (user, item)."""
    _upsert_add(connection, user_profiles, {"user_id": user_id, "item_id": item_id},
                {"events": 1, "satisfaction_sum": float(satisfaction), "engagement_sum": engagement})


class Store:
    def __init__(self, url: str, timeout_s: float = 10.0, pool_size: int = 5, max_overflow: int = 10,
                 pool_recycle_s: int = 1800, create: bool = True, must_exist: bool = False):
        """`create=False` leaves the tables to the first use (a replica may start while its
        database is down). `must_exist` (read-only verbs: a report) refuses a SQLite file
        that is not there, instead of creating an empty one and reporting on nothing."""
        self.url = url
        if must_exist:
            check_exists(resolve_url(url))
        self.engine = open_engine(url, timeout_s, pool_size, max_overflow, pool_recycle_s)
        self.ready = False
        if create:
            try:
                self.ensure_schema()
            except StoreUnavailable as error:
                raise StoreError(f"store {safe_url(url)!r} is not reachable: {error.detail or error}") from None

    @unavailable_on_database_errors
    def ensure_schema(self) -> None:
        """Tables and indexes, created once; an older database gains the event_key,
        matched_items and propensities columns (and `rebuild_user_affect` fills user_affect
        from its log). Columns are only ever added, nullable: old rows keep their meaning."""
        if self.ready:
            return
        metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            columns = {column["name"] for column in inspect(connection).get_columns("feedback")}
            if "event_key" not in columns:
                connection.execute(text("ALTER TABLE feedback ADD COLUMN event_key VARCHAR(128)"))
            columns = {column["name"] for column in inspect(connection).get_columns("recommendations")}
            for column in ("matched_items", "propensities"):
                if column not in columns:
                    connection.execute(text(f"ALTER TABLE recommendations ADD COLUMN {column} TEXT"))
            connection.execute(text(f"CREATE UNIQUE INDEX IF NOT EXISTS {EVENT_KEY_INDEX} ON feedback (event_key)"))
        self.ready = True

    @unavailable_on_database_errors
    def ping(self) -> None:
        """Can this store write now? Within its timeout (health and readiness).

        SQLite (WAL) lets readers through while another process holds the write lock,
        so there the ping takes the write lock itself and lets it go; elsewhere, one
        round trip."""
        if self.engine.dialect.name != "sqlite":
            with self.engine.connect() as connection:
                connection.execute(select(1))
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            raw.rollback()
        finally:
            raw.close()

    @unavailable_on_database_errors
    def log_recommendation(self, request_id: str, user_id: str, variant: str, strategy: str, items: list[str],
                           emotion: str | None, intent: str | None, created_at: float | None = None,
                           matched_items: list[str] | None = None, propensities: list[float] | None = None) -> None:
        """`created_at` defaults to now; simulators and importers pass their own times.
        `matched_items`: those of `items` whose target emotion is `emotion`, for the user's
        affect history, added to in the same transaction. `propensities`: the logging
        policy's probability of each item at its position, one per item."""
        if propensities is not None and (len(propensities) != len(items)
                                         or not all(0 < float(p) <= 1 for p in propensities)):
            raise ValueError(f"propensities must be one probability in (0, 1] per item, got {propensities}")
        matched = [item for item in (matched_items or []) if item in items] if emotion is not None else []
        with self.engine.begin() as connection:
            connection.execute(insert(recommendations).values(
                request_id=request_id, user_id=user_id, variant=variant, strategy=strategy, items=json.dumps(items),
                emotion=emotion, intent=intent, created_at=time.time() if created_at is None else created_at,
                matched_items=json.dumps(matched),
                propensities=None if propensities is None else json.dumps([float(p) for p in propensities])))
            _upsert_add(connection, user_affect, {"user_id": user_id},
                        {"shown": len(items), "outcome_sum": 0.0, "matched": len(matched), "matched_outcome_sum": 0.0})

    @unavailable_on_database_errors
    def record_feedback(self, request_id: str, item_id: str, engagement_seconds: float, satisfaction: int,
                        created_at: float | None = None, event_key: str | None = None) -> tuple[int, bool]:
        """Store one event and fold it into the user's profile, in one transaction.

        Returns (feedback id, replayed) once committed. With `event_key`, an event sent
        again (a client retry after a lost response, even concurrently) returns the
        original id with replayed=True and changes nothing: the unique index decides
        the race. The same key with a different event is KeyReused. Without a key every
        call stores a new event.
        """
        if event_key is not None:
            original = self._event_by_key(event_key)
            if original is not None:
                return self._replay(original, request_id, item_id, engagement_seconds, satisfaction), True
        try:
            with self.engine.begin() as connection:
                served = connection.execute(select(recommendations).where(
                    recommendations.c.request_id == request_id)).first()
                if served is None:
                    raise UnknownRequest(f"request_id {request_id!r} was never served")
                items = json.loads(served.items)
                if item_id not in items:
                    raise NotRecommended(f"item_id {item_id!r} was not among request {request_id}'s items")
                result = connection.execute(insert(feedback).values(
                    request_id=request_id, user_id=served.user_id, variant=served.variant, item_id=item_id,
                    position=items.index(item_id), engagement_seconds=float(engagement_seconds),
                    satisfaction=int(satisfaction), created_at=time.time() if created_at is None else created_at,
                    event_key=event_key))
                _upsert_profile(connection, served.user_id, item_id, satisfaction, float(engagement_seconds))
                matched = item_id in json.loads(served.matched_items or "[]")
                _upsert_add(connection, user_affect, {"user_id": served.user_id},
                            {"shown": 0, "outcome_sum": float(satisfaction), "matched": 0,
                             "matched_outcome_sum": float(satisfaction) if matched else 0.0})
                return int(result.inserted_primary_key[0]), False
        except IntegrityError:
            original = self._event_by_key(event_key) if event_key is not None else None
            if original is None:
                raise
            return self._replay(original, request_id, item_id, engagement_seconds, satisfaction), True

    def _event_by_key(self, event_key: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(select(feedback).where(feedback.c.event_key == event_key)).first()

    @staticmethod
    def _replay(original: Any, request_id: str, item_id: str, engagement_seconds: float, satisfaction: int) -> int:
        same = (original.request_id, original.item_id, original.satisfaction) == (request_id, item_id, int(satisfaction))
        if not same or abs(original.engagement_seconds - float(engagement_seconds)) > 1e-9:
            raise KeyReused(f"Idempotency-Key {original.event_key!r} was already used for another event "
                            f"(feedback {original.feedback_id})")
        return int(original.feedback_id)

    @unavailable_on_database_errors
    def prune(self, older_than_days: float, now: float | None = None) -> int:
        """Delete recommendations older than this with no feedback; returns how many.
        A recommendation that has feedback is evidence for the A/B report: never pruned."""
        cutoff = (time.time() if now is None else now) - older_than_days * 86400
        has_feedback = exists().where(feedback.c.request_id == recommendations.c.request_id)
        with self.engine.begin() as connection:
            result = connection.execute(delete(recommendations).where(recommendations.c.created_at < cutoff,
                                                                      ~has_feedback))
            return int(result.rowcount or 0)

    @unavailable_on_database_errors
    def profile(self, user_id: str) -> list[ProfileEntry]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(user_profiles).where(user_profiles.c.user_id == user_id)).all()
        return [ProfileEntry(r.item_id, r.events, r.satisfaction_sum / r.events, r.engagement_sum / r.events)
                for r in rows]

    @unavailable_on_database_errors
    def feedback_events(self, since: float | None = None, before: float | None = None) -> list[dict[str, Any]]:
        """Feedback stored in [since, before), in arrival order."""
        query = select(feedback).order_by(feedback.c.feedback_id)
        if since is not None:
            query = query.where(feedback.c.created_at >= since)
        if before is not None:
            query = query.where(feedback.c.created_at < before)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    @unavailable_on_database_errors
    def served(self) -> list[dict[str, Any]]:
        """Every logged recommendation, oldest first, with its items (and propensities,
        None where not logged) decoded."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(recommendations).order_by(recommendations.c.created_at)).all()
        return [{**row._mapping, "items": json.loads(row.items),
                 "propensities": None if row.propensities is None else json.loads(row.propensities)} for row in rows]

    @unavailable_on_database_errors
    def user_affect(self, user_id: str) -> AffectHistory:
        """The user's affect history: one row, however long their log."""
        with self.engine.connect() as connection:
            row = connection.execute(select(user_affect).where(user_affect.c.user_id == user_id)).first()
        if row is None:
            return AffectHistory()
        return AffectHistory(shown=int(row.shown), outcome_sum=float(row.outcome_sum), matched=int(row.matched),
                             matched_outcome_sum=float(row.matched_outcome_sum))

    @unavailable_on_database_errors
    def rebuild_user_affect(self, target_of: dict[str, str]) -> int | None:
        """The migration for a store logged before user_affect existed: replays the whole
        log once with the catalog's target emotions, fills each recommendation's
        matched_items and every user's row. Runs only when user_affect is empty and the
        log is not; returns the users rebuilt, or None when there was nothing to do."""
        with self.engine.begin() as connection:
            if connection.execute(select(func.count()).select_from(user_affect)).scalar() or \
                    not connection.execute(select(func.count()).select_from(recommendations)).scalar():
                return None
            requests = [{**row._mapping, "items": json.loads(row.items)}
                        for row in connection.execute(select(recommendations))]
            events = [dict(row._mapping) for row in connection.execute(select(feedback))]
            _, users = replay(requests, events, target_of)
            for request in requests:
                matched = [item for item in request["items"]
                           if request["emotion"] is not None and target_of.get(item) == request["emotion"]]
                connection.execute(recommendations.update().where(
                    recommendations.c.request_id == request["request_id"]).values(matched_items=json.dumps(matched)))
            for user_id, history in users.items():
                connection.execute(insert(user_affect).values(
                    user_id=user_id, **{name: getattr(history, name) for name in AFFECT_SUMS}))
        return len(users)

    @unavailable_on_database_errors
    def served_users(self, since: float | None = None, before: float | None = None) -> list[dict[str, Any]]:
        """Per (user, variant) served in [since, before): recommendations and the time of
        the first. The A/B report's population; a user appears under two variants only if
        their assignment changed."""
        first = func.min(recommendations.c.created_at)
        query = select(recommendations.c.user_id, recommendations.c.variant, func.count().label("recommendations"),
                       first.label("first_at")).group_by(recommendations.c.user_id, recommendations.c.variant)
        if since is not None:
            query = query.where(recommendations.c.created_at >= since)
        if before is not None:
            query = query.where(recommendations.c.created_at < before)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query.order_by(first))]

    @unavailable_on_database_errors
    def counts(self) -> dict[str, Any]:
        """Per variant: recommendations served and feedback events stored."""
        with self.engine.connect() as connection:
            served = dict(connection.execute(select(recommendations.c.variant, func.count())
                                             .group_by(recommendations.c.variant)).all())
            events = dict(connection.execute(select(feedback.c.variant, func.count())
                                             .group_by(feedback.c.variant)).all())
        return {variant: {"recommendations": served.get(variant, 0), "feedback": events.get(variant, 0)}
                for variant in sorted(set(served) | set(events))}

    def close(self) -> None:
        self.engine.dispose()
