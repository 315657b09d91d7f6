"""The SQL store: served recommendations, feedback events and user profiles.

SQLAlchemy Core over any URL: an SQLite file by default, PostgreSQL in production
(`postgresql+psycopg://user:pass@host/db`). Tables are created on first use.

    recommendations  one row per answered /v1/recommend: who, which A/B variant and
                     strategy, which items in which order
    feedback         one row per /v1/feedback event, referencing its recommendation
    user_profiles    per (user, item): events, satisfaction and engagement sums;
                     updated in the same transaction as the feedback row, so a
                     profile never disagrees with the events it summarises

`record_feedback` returns only after the commit, so an acknowledged event is stored.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, create_engine, event, func, insert,
                        select)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from mmei.platform.errors import UserInputError

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
)
user_profiles = Table(
    "user_profiles", metadata,
    Column("user_id", String(128), primary_key=True),
    Column("item_id", String(128), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("satisfaction_sum", Float, nullable=False),
    Column("engagement_sum", Float, nullable=False),
)


class StoreError(UserInputError):
    """A store URL that cannot be opened."""


class UnknownRequest(LookupError):
    """Feedback names a request_id this store never served."""


class NotRecommended(ValueError):
    """Feedback names an item that its request did not return."""


@dataclass(frozen=True)
class ProfileEntry:
    item_id: str
    events: int
    mean_satisfaction: float
    mean_engagement: float


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; fast commits
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def resolve_url(url: str) -> str:
    """`env:NAME` reads the URL from that environment variable where the store opens
    (a Serve replica), so a database password lives in a Kubernetes Secret, never in
    a Serve config or a manifest."""
    if not url.startswith("env:"):
        return url
    name = url[len("env:"):]
    if not os.environ.get(name):
        raise StoreError(f"store URL {url!r}: environment variable {name} is not set here")
    return os.environ[name]


def open_engine(url: str) -> Engine:
    url = resolve_url(url)
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise StoreError(f"store URL {url!r} cannot be opened: {error}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _upsert_profile(connection, user_id: str, item_id: str, satisfaction: int, engagement: float) -> None:
    """Add one event to (user, item), atomically, on SQLite and PostgreSQL alike."""
    values = {"user_id": user_id, "item_id": item_id, "events": 1, "satisfaction_sum": float(satisfaction),
              "engagement_sum": engagement}
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif connection.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # other databases: read, then write, inside the caller's transaction
        row = connection.execute(select(user_profiles).where(user_profiles.c.user_id == user_id,
                                                             user_profiles.c.item_id == item_id)).first()
        if row is None:
            connection.execute(insert(user_profiles).values(**values))
        else:
            connection.execute(user_profiles.update().where(
                user_profiles.c.user_id == user_id, user_profiles.c.item_id == item_id).values(
                events=row.events + 1, satisfaction_sum=row.satisfaction_sum + satisfaction,
                engagement_sum=row.engagement_sum + engagement))
        return
    statement = dialect_insert(user_profiles).values(**values)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "item_id"],
        set_={"events": user_profiles.c.events + 1,
              "satisfaction_sum": user_profiles.c.satisfaction_sum + float(satisfaction),
              "engagement_sum": user_profiles.c.engagement_sum + engagement}))


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = open_engine(url)
        try:
            metadata.create_all(self.engine)
        except OperationalError as error:
            raise StoreError(f"store {url!r} is not reachable: {error.orig}") from None

    def log_recommendation(self, request_id: str, user_id: str, variant: str, strategy: str, items: list[str],
                           emotion: str | None, intent: str | None, created_at: float | None = None) -> None:
        """`created_at` defaults to now; simulators and importers pass their own times."""
        with self.engine.begin() as connection:
            connection.execute(insert(recommendations).values(
                request_id=request_id, user_id=user_id, variant=variant, strategy=strategy, items=json.dumps(items),
                emotion=emotion, intent=intent, created_at=time.time() if created_at is None else created_at))

    def record_feedback(self, request_id: str, item_id: str, engagement_seconds: float, satisfaction: int,
                        created_at: float | None = None) -> int:
        """Store one event and fold it into the user's profile; returns its id once committed."""
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
                satisfaction=int(satisfaction), created_at=time.time() if created_at is None else created_at))
            _upsert_profile(connection, served.user_id, item_id, satisfaction, float(engagement_seconds))
            return int(result.inserted_primary_key[0])

    def profile(self, user_id: str) -> list[ProfileEntry]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(user_profiles).where(user_profiles.c.user_id == user_id)).all()
        return [ProfileEntry(r.item_id, r.events, r.satisfaction_sum / r.events, r.engagement_sum / r.events)
                for r in rows]

    def feedback_events(self, since: float | None = None) -> list[dict[str, Any]]:
        query = select(feedback).order_by(feedback.c.feedback_id)
        if since is not None:
            query = query.where(feedback.c.created_at >= since)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def served(self) -> list[dict[str, Any]]:
        """Every logged recommendation, oldest first, with its items decoded."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(recommendations).order_by(recommendations.c.created_at)).all()
        return [{**row._mapping, "items": json.loads(row.items)} for row in rows]

    def assignments(self, since: float | None = None) -> dict[str, int]:
        """Distinct users served per variant: the denominators of the SRM check."""
        query = select(recommendations.c.variant, func.count(func.distinct(recommendations.c.user_id)))
        if since is not None:
            query = query.where(recommendations.c.created_at >= since)
        with self.engine.connect() as connection:
            return dict(connection.execute(query.group_by(recommendations.c.variant)).all())

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
