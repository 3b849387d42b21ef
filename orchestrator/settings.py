"""Configuration: one `Settings` object read from `ORCH_*` environment variables, built by `get_settings()`."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NO_MODEL_KEY = "not-needed"  # local endpoints (vLLM, Ollama, the mock) take any key


class Settings(BaseSettings):
    # Errors never repeat the offending value: it may be an API key or a URL with a password.
    model_config = SettingsConfigDict(
        env_prefix="ORCH_", env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True
    )

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis holding every object, event log and bus.")
    broker_url: str | None = Field(
        None,
        description="Celery broker: a Redis (redis://, rediss://) or RabbitMQ (amqp://, quorum queues); "
        "defaults to redis_url.",
    )
    redis_cluster: bool = Field(
        False,
        description="The state runs on a Redis Cluster: redis_url names any seed node. Celery's broker cannot be a "
        "cluster, so broker_url must then be set.",
    )
    key_prefix: str = Field("orch", description="Prefix of every Redis key this deployment owns.")
    broker_key_prefix: str = Field(
        "",
        description="Prefix of Celery's keys (queues, bindings) on a Redis broker, so deployments can share one "
        "Redis (on RabbitMQ a virtual host in the URL separates them).",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated `key=project` pairs. A request's bearer key selects its project.",
    )
    # Generous: 128 clients polling once a second (bench/scaling.py) stay well within one key's limit.
    rate_limit_rps: float = Field(
        200.0, ge=0, description="Requests per second each API key may make on average (token bucket); 0: no limit."
    )
    rate_limit_burst: int = Field(1000, ge=1, description="Requests an API key may make at once (the bucket's size).")
    max_active_runs: int = Field(
        1000, ge=0, description="Runs a project may have queued, in progress or waiting at once; 0: no cap."
    )
    model_base_url: str | None = Field(None, description="OpenAI-compatible Chat Completions endpoint (…/v1).")
    model_api_key: SecretStr = Field(SecretStr(_NO_MODEL_KEY), description="API key sent to the upstream model.")
    model_timeout_s: float = Field(60.0, gt=0, description="Upstream read timeout per request.")
    model_max_retries: int = Field(2, ge=0, description="Upstream retries on 429, 5xx and timeouts, with backoff.")
    run_expiry_s: int = Field(600, gt=0, description="A run not finished this long after creation is expired.")
    max_turns: int = Field(16, gt=0, description="Model turns one run may take before it fails.")
    context_tokens: int = Field(
        128_000,
        gt=0,
        description="The model's context window in tokens: truncation `auto` sends the newest thread messages that "
        "fit it (less the instructions and tools), estimated at 4 characters a token; a run's max_prompt_tokens "
        "lowers it.",
    )
    event_log_maxlen: int = Field(10_000, gt=0, description="Approximate cap of each run's event log (a stream).")
    event_log_ttl_s: int = Field(86_400, gt=0, description="How long a finished run's event log is kept.")
    max_request_bytes: int = Field(
        32 * 1024 * 1024,
        gt=0,
        description="Largest request body the API reads (413 beyond): a thread of 32 messages of 256,000 characters "
        "fits, and no single request can fill Redis.",
    )
    redis_timeout_s: float = Field(
        5.0, gt=0, description="The API's Redis connect and reply timeout; past it a request answers 503."
    )
    sse_keepalive_s: float = Field(10.0, gt=0, description="Seconds of silence after which SSE sends a comment.")
    delta_coalesce_ms: float = Field(
        5.0,
        ge=0,
        description="Text pieces the model sends within this window go out as one delta (0: one delta per piece).",
    )
    sweep_interval_s: float = Field(2.0, gt=0, description="How often the sweeper looks for expired runs.")
    # Recovery timings, in one place (README "Guarantees" explains how they fit): a dead executor's run moves on
    # after run_lease_s + sweep_interval_s; a sent task or tool call nobody claimed is sent again after
    # task_resend_after_s; the broker's own redelivery (visibility timeout) is only a backstop behind both.
    run_lease_s: float = Field(15.0, gt=0, description="Lease an executor (or tool worker) renews every third of.")
    task_resend_after_s: float = Field(
        30.0, gt=0, description="A sent task or tool call not claimed this long after it was sent is sent again."
    )
    max_recoveries: int = Field(3, ge=0, description="Executors that may vanish under one run before it fails.")
    broker_visibility_timeout_s: int = Field(
        600,
        gt=0,
        description="Seconds before a Redis broker redelivers a task a worker took and never acknowledged.",
    )
    code_timeout_s: float = Field(30.0, gt=0, description="Wall-clock limit of one code_interpreter execution.")
    code_memory_mb: int = Field(512, gt=0, description="Address-space limit of one code_interpreter execution.")
    code_sandbox: Literal["bubblewrap", "unsafe"] = Field(
        "bubblewrap",
        description="code_interpreter isolation: `bubblewrap` refuses to run code where it cannot isolate it; "
        "`unsafe` runs it as a plain child of the worker (its uid, network and files), for trusted code only.",
    )
    code_sandbox_bwrap: str = Field("bwrap", description="The bubblewrap binary: a name on PATH or a path.")
    code_session_idle_s: int = Field(
        1800, gt=0, description="A thread's code_interpreter session (variables, files) ends after this idle time."
    )
    code_session_max_cells: int = Field(
        50, gt=0, description="Cells a code session replays at most; the next one starts a fresh session."
    )
    code_session_replay_s: float = Field(
        60.0, gt=0, description="Time a code session's replay may take; past it the call starts a fresh session."
    )
    metrics_port: int | None = Field(
        None, description="Port a worker pool or the sweeper serves /metrics on (the API serves it on its own port)."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address worker pools and the sweeper bind /metrics to (`up`: its --host; containers: 0.0.0.0).",
    )
    metrics_targets: str | None = Field(
        None,
        description="Where the API's ops overview (/v1/ops/overview) scrapes /metrics: a Prometheus file_sd JSON "
        "file (re-read when it changes; `up` sets it to its scrape_targets.json) or comma-separated host:port; "
        "unset: the API process's own metrics only.",
    )
    ops_window_s: int = Field(
        300, ge=10, le=3600, description="Span of the ops overview's samples (one every 2 s, kept in memory)."
    )
    ops_idle_sample_s: float = Field(
        10.0,
        ge=0,
        description="While nobody watches the ops view, the API samples every this many seconds so the view opens "
        "on the last minutes; 0: sample only from the first overview request on.",
    )
    files_backend: Literal["local", "s3"] = Field(
        "local", description="Where uploaded files' bytes live: `local` (a directory) or `s3` (a bucket)."
    )
    files_dir: str = Field(
        ".orchestrator/files",
        description="The local backend's directory; every API and worker process must see the same one.",
    )
    s3_bucket: str = Field("", description="The s3 backend's bucket (credentials: the standard AWS_* variables).")
    s3_endpoint_url: str | None = Field(None, description="An S3-compatible endpoint (MinIO, Ceph...); None: AWS.")
    s3_region: str | None = Field(None, description="The bucket's region.")
    # OpenAI allows 512 MB. Every reader holds a file whole (storage passes bytes, ingestion parses the whole
    # document, the sandbox gets a copy), so the default bounds what one upload costs a process in memory.
    max_file_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest file POST /v1/files accepts (413).")
    models: str = Field(
        "",
        description="Comma-separated ids GET /v1/models lists; default: what the upstream lists plus the models "
        "the project's assistants use.",
    )
    embeddings_model: str | None = Field(
        None,
        description="file_search embeddings: unset, the local all-MiniLM-L6-v2 when installed (else BM25 alone); "
        "`local`: that model; `none`: BM25 alone; another name: that model at the upstream's /embeddings.",
    )
    embeddings_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (…/v1) serving /embeddings; default: model_base_url."
    )
    log_level: str = Field("INFO", description="Log level of every process.")
    log_json: bool | None = Field(None, description="JSON log lines; default: JSON unless stderr is a TTY.")

    @field_validator("api_keys")
    @classmethod
    def _parse_keys(cls, value: str) -> str:
        entries = [p.strip() for p in value.split(",") if p.strip()]
        for number, pair in enumerate(entries, start=1):
            key, sep, project = pair.partition("=")
            if not sep or not key.strip() or not project.strip():
                # Name the entry by position only: its text may be a key.
                raise ValueError(f"ORCH_API_KEYS entry {number} of {len(entries)} is not of the form key=project")
        return value

    @model_validator(mode="after")
    def _cluster_needs_a_broker(self) -> Settings:
        if self.redis_cluster and not self.broker_url:
            raise ValueError(
                "ORCH_REDIS_CLUSTER is set but ORCH_BROKER_URL is not: Celery's broker cannot be a Redis Cluster, "
                "so name a separate broker (a single Redis or RabbitMQ) in ORCH_BROKER_URL"
            )
        return self

    def secrets(self) -> list[str]:
        """Every secret value a log line must never show."""
        values = list(self.api_key_map())
        if self.model_api_key.get_secret_value() != _NO_MODEL_KEY:
            values.append(self.model_api_key.get_secret_value())
        for url in (self.redis_url, self.broker_url or ""):
            password = urlsplit(url).password
            if password:
                values.append(password)
        return values

    def api_key_map(self) -> dict[str, str]:
        """The bearer key to project mapping."""
        pairs = (p.strip().partition("=") for p in self.api_keys.split(",") if p.strip())
        return {key.strip(): project.strip() for key, _, project in pairs}

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    def celery_transport_options(self) -> dict[str, str | int]:
        options: dict[str, str | int] = {"visibility_timeout": self.broker_visibility_timeout_s}
        if self.broker_key_prefix:
            options["global_keyprefix"] = self.broker_key_prefix
        return options


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
