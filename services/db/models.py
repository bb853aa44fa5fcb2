"""The tables: ``job`` (the source of truth for every job), ``model`` (the registry) and ``artifact``."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, so SQLite and PostgreSQL behave the same."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Job(Base):
    __tablename__ = "job"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[dict[str, Any]]
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_type: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[str | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the job's worker is shutting down: the job stops at its next step and goes back to the queue.
    release_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    handbacks: Mapped[int] = mapped_column(Integer, default=0)  # attempts a stopping worker handed back (not lost)
    worker: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))  # the client's Idempotency-Key header
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of the request it came with

    __table_args__ = (
        Index("ix_job_owner_created", "owner", "created_at", "id"),
        Index("ix_job_status", "status"),
        Index("uq_job_owner_idempotency_key", "owner", "idempotency_key", unique=True),
    )


class Model(Base):
    __tablename__ = "model"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(16))  # hub | folder | job
    source: Mapped[str] = mapped_column(Text)  # hub id, original folder, or the training job id
    path: Mapped[str | None] = mapped_column(Text)  # under the artifact root; None for hub models
    sample_size: Mapped[int] = mapped_column(Integer)
    in_channels: Mapped[int] = mapped_column(Integer)
    out_channels: Mapped[int] = mapped_column(Integer)
    num_class_embeds: Mapped[int | None] = mapped_column(Integer)
    class_names: Mapped[list[Any] | None]
    scheduler_class: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Artifact(Base):
    __tablename__ = "artifact"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | grid | model | checkpoint | metrics | plot | preview
    media_type: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)  # under the artifact root
    size_bytes: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event of a job to POST to the job's webhook: an outbox row, written with the change it reports."""

    __tablename__ = "webhook_delivery"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)  # also the webhook-id header
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # started | progress | completed
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]  # a sender holds it until then
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)


class Dataset(Base):
    __tablename__ = "dataset"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(16))  # builtin | upload | imagefolder | hub
    source: Mapped[str] = mapped_column(Text)  # builtin name, uploaded file name, server folder, or hub dataset name
    path: Mapped[str | None] = mapped_column(Text)  # under the artifact root for uploads; None otherwise
    num_images: Mapped[int | None] = mapped_column(Integer)  # None for hub datasets (known only when loaded)
    class_names: Mapped[list[Any] | None]
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    grayscale_modes = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})  # PIL modes

    @property
    def channels(self) -> int | None:
        """1 when every image seen is grayscale, 3 otherwise; None when not known (hub datasets)."""
        modes = (self.meta or {}).get("modes")
        if not modes:
            return None
        return 1 if set(modes) <= self.grayscale_modes else 3
