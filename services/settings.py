"""All configuration, read once from the environment (prefix ``DJ_``)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


DEVELOPMENT_SECRET_KEY = "changethis"


class Settings(BaseSettings):
    """Settings with defaults that run on a laptop: SQLite and a SQLite-backed broker under ``data_dir``."""

    model_config = SettingsConfigDict(env_prefix="DJ_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses unsafe defaults (SQLite, no API keys)."
    )
    data_dir: Path = Field(Path("var"), description="Where the embedded database, broker and artifacts live.")
    database_url: str = Field("", description="SQLAlchemy URL. Empty: SQLite file in data_dir.")
    broker_url: str = Field(
        "", description="Celery broker URL, e.g. redis://redis:6379/0. Empty: a broker in files under data_dir/broker."
    )
    artifact_root: Path | None = Field(None, description="Directory for images and models. Empty: data_dir/artifacts.")
    hub_cache_dir: Path | None = Field(None, description="Hugging Face hub cache. Empty: data_dir/hub.")
    api_keys: str = Field(
        "",
        description='API keys and their owners, "key:owner" pairs separated by commas, e.g. "s3cret:alice,t0ken:bob". '
        'Each owner sees only their own jobs, models and artifacts. Empty: no auth, one owner "public".',
    )

    model_import_dirs: str = Field(
        "",
        description="Directories (separated by ':') whose model folders POST /v1/models may register. "
        "Empty: anywhere in development, nowhere in production.",
    )
    clip_model: str = Field(
        "openai/clip-vit-base-patch32",
        description="CLIP for clip_guidance: a hub id or a local folder (CLIPModel + tokenizer). Empty: no CLIP guidance.",
    )
    max_images_per_job: int = Field(16, ge=1, description="Upper bound of num_images in a sample job.")
    max_inference_steps: int = Field(1000, ge=1, description="Upper bound of num_inference_steps.")
    max_training_steps: int = Field(1_000_000, ge=1, description="Upper bound of max_steps in a training job.")
    max_image_size: int = Field(512, ge=8, description="Upper bound of image_size in a training job.")
    max_batch_size: int = Field(512, ge=1, description="Upper bound of batch_size in a training job.")
    max_upload_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="Largest dataset archive POST /v1/datasets accepts, in bytes (else 413)."
    )
    max_archive_entries: int = Field(50_000, ge=1, description="Most entries (files, folders) a dataset archive holds.")
    max_image_pixels: int = Field(
        4096 * 4096, ge=1, description="Most pixels (width × height) of one dataset image; larger ones are refused "
        "as possible decompression bombs.",
    )
    max_dataset_images: int = Field(100_000, ge=1, description="Most images one dataset may hold.")
    job_max_attempts: int = Field(3, ge=1, description="A job whose worker was lost this many times fails.")
    job_lease_seconds: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older than this is taken to have lost its worker."
    )
    job_recovery_interval_seconds: float = Field(
        5.0, gt=0, description="How often each worker looks for jobs whose worker died or that never reached the "
        "broker, and queues them again.",
    )
    job_time_limit_seconds: float = Field(
        86400.0, gt=0, description="Longest one run of a job may take (the job fails with `timeout`), unless the "
        "request sets time_limit_seconds.",
    )
    max_job_time_limit_seconds: float = Field(
        7 * 86400.0, gt=0, description="Largest time_limit_seconds a request may ask for.",
    )
    progress_interval_seconds: float = Field(0.25, ge=0, description="Least time between two progress writes of a job.")
    pipeline_cache_size: int = Field(4, ge=1, description="Models a worker keeps loaded (least recently used go first).")
    worker_device: str = Field("auto", description="torch device for workers: auto, cpu, cuda, cuda:1, mps.")
    worker_queues: str = Field("sample,train", description="Comma-separated queues a worker consumes.")
    broker_visibility_timeout: int = Field(
        43200, ge=1, description="Seconds before Redis re-delivers an unacknowledged job. A re-delivered job that is "
        "still running elsewhere is not run again (its lease is live), so this only bounds how soon a lost message "
        "comes back; keep it longer than most jobs to spare needless re-deliveries."
    )
    broker_polling_interval: float = Field(0.05, gt=0, description="Poll interval of the embedded (file) broker.")
    secret_key: str = Field(
        DEVELOPMENT_SECRET_KEY, description="The server's secret: each owner's webhook signing key is derived from "
        "it. Production refuses the default and keys shorter than 32 characters; changing it changes every key.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="How long one webhook POST may take.")
    webhook_max_attempts: int = Field(8, ge=1, description="A webhook delivery is given up after this many attempts.")
    webhook_retry_base_seconds: float = Field(
        2.0, gt=0, description="Wait before the first retry of a failed webhook delivery; doubled for each retry after."
    )
    webhook_retry_max_seconds: float = Field(3600.0, gt=0, description="Longest wait between two webhook attempts.")
    webhook_progress_interval_seconds: float = Field(
        5.0, ge=0, description="Least time between two `progress` webhook events of a job."
    )
    webhook_poll_interval_seconds: float = Field(
        0.5, gt=0, description="How often each worker looks for webhook deliveries that are due."
    )
    webhook_allow_private_networks: bool = Field(
        True, description="Whether webhook URLs may point at loopback, private or link-local addresses. Set it to "
        "false where workers can reach internal services: such URLs are refused at submission and again before "
        "each send.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'diffusion-jobs.db'}"
        if not self.broker_url:
            self.broker_url = "filesystem://"
        self.artifact_root = (self.artifact_root or self.data_dir / "artifacts").expanduser().resolve()
        self.hub_cache_dir = (self.hub_cache_dir or self.data_dir / "hub").expanduser().resolve()
        if self.environment == "production":
            if self.database_url.startswith("sqlite"):
                raise ValueError("DJ_DATABASE_URL must name a server database (e.g. PostgreSQL) in production")
            if not self.api_keys:
                raise ValueError("DJ_API_KEYS must be set in production; without it anyone can submit jobs")
            if self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError("DJ_SECRET_KEY must be set to a random string of at least 32 characters in "
                                 "production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return self

    @field_validator("api_keys")
    @classmethod
    def _well_formed_keys(cls, value: str) -> str:
        for pair in filter(None, (part.strip() for part in value.split(","))):
            key, _, owner = pair.partition(":")
            if not key or not owner:
                raise ValueError(f"DJ_API_KEYS entries look like key:owner, got {pair!r}")
        return value

    @property
    def api_key_owners(self) -> dict[str, str]:
        pairs = (part.strip().partition(":") for part in self.api_keys.split(",") if part.strip())
        return {key: owner for key, _, owner in pairs}

    @property
    def import_roots(self) -> list[Path]:
        return [Path(part) for part in self.model_import_dirs.split(":") if part]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem:")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
