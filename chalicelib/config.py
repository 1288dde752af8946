"""One settings object, read from the environment (and `.env`) and validated once per process."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_JWT_SECRET = "local-development-only-jwt-secret-change-me"


class Plan:
    """A plan's limits. Billing (Whop) decides which plan a user is on; free until then."""

    def __init__(self, name: str, monthly_jobs: int, max_duration_s: int, max_concurrency: int,
                 retention_days: int):
        self.name = name
        self.monthly_jobs = monthly_jobs
        self.max_duration_s = max_duration_s
        self.max_concurrency = max_concurrency
        self.retention_days = retention_days

    def as_dict(self) -> dict:
        return dict(vars(self))


FREE_PLAN = Plan("free", monthly_jobs=5, max_duration_s=30, max_concurrency=1, retention_days=7)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    stage: str = "local"
    database_url: str = "mysql://root:@127.0.0.1:3306/media"
    redis_url: str = "redis://127.0.0.1:6379/0"

    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    # Local default: the AWS emulator (LocalStack or the moto server) on loopback.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    media_bucket: str = "media-local"

    jwt_secret: SecretStr = SecretStr(LOCAL_JWT_SECRET)
    access_token_ttl_s: int = 12 * 3600

    queue_name: str = "media-jobs"
    queue_prefix: str = "bull"
    job_attempts: int = Field(3, ge=1, le=20)
    worker_concurrency: int = Field(2, ge=1, le=32)
    presign_ttl_s: int = Field(900, ge=60, le=7 * 24 * 3600)
    events_max_per_job: int = 2000
    work_dir: str = "/tmp/media-work"

    @model_validator(mode="after")
    def _stage_rules(self) -> "Settings":
        if self.stage == "local" and self.aws_endpoint_url is None:
            self.aws_endpoint_url = "http://127.0.0.1:4566"
        if self.stage != "local" and self.jwt_secret.get_secret_value() == LOCAL_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set outside the local stage")
        return self

    def mysql_params(self) -> dict:
        """pymysql.connect() keyword arguments parsed from DATABASE_URL."""
        url = urlparse(self.database_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 3306,
            "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""),
            "database": url.path.lstrip("/") or "media",
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
