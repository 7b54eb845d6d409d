"""One settings object for the whole app: CLI flag -> Settings -> constructor arguments.

Every field has a default and a help text; each can also be set by an environment
variable with the ``DIGITPAD_`` prefix (``DIGITPAD_DATA_DIR``, ``DIGITPAD_MAX_BODY_BYTES``...).
Nothing else in digitpad reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ADMIN_TOKEN_MIN_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITPAD_", extra="ignore", protected_namespaces=())

    data_dir: Path | None = Field(None, description="folder with the four MNIST IDX files (default: per-user cache, downloaded on first use)")
    model: Path | None = Field(None, description="path to a digitpad .onnx model (default: the shipped model)")
    sequence: bool = Field(True, description="read a number's digits that touch again, whole, with the sequence "
                                             "model, keeping the more confident string")
    sequence_model: Path | None = Field(None, description="path to a digitpad sequence .onnx (default: the shipped one)")
    host: str = Field("127.0.0.1", description="address the server binds")
    port: int = Field(8000, ge=0, le=65535, description="port the server listens on")
    workers: int = Field(1, ge=1, le=64, description="server worker processes")
    threads: int = Field(1, ge=0, le=64, description="onnxruntime threads per predictor (1 is best for serving)")
    preprocess: Literal["auto", "c", "numpy"] = Field(
        "auto", description="preprocessing engine: 'auto' (the C extension when it is built), 'c' or 'numpy' (the reference)")
    max_body_bytes: int = Field(10_000_000, ge=1024, description="largest request body accepted (bytes); larger answers 413")
    max_pixels: int = Field(16_000_000, ge=1, description="largest image accepted (width x height); checked before decoding")
    request_timeout: float = Field(10.0, gt=0, description="seconds a request may take before it is answered 503")
    max_header_bytes: int = Field(64 * 1024, ge=1024, description="largest HTTP header block accepted (bytes); larger answers 431")
    header_timeout: float = Field(10.0, gt=0, description="seconds a connection may take to send its request headers before it is closed")
    uncertain_threshold: float | None = Field(
        None, ge=0, le=1, description="below this confidence (of the top digit) a reading is 'uncertain' (default: the "
                                      "model's own, chosen on validation writers; 0.6 for a model without one)")
    not_digit_threshold: float | None = Field(
        None, ge=0, le=1, description="below this digit likelihood a reading is 'not_digit' (default: the model's own; "
                                      "a digits-only model never says it)")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the feedback store (default: SQLite in the per-user data dir)")
    migrate: bool = Field(True, description="bring the feedback database's schema up to date when the server or a command opens it "
                                           "(false: replicas that leave it to `digitpad db upgrade`; a schema not at head is then a start-up error)")
    admin_token: str | None = Field(None, description=f"bearer token for the feedback admin API (unset: admin API off; "
                                                       f"at least {ADMIN_TOKEN_MIN_LENGTH} characters)")
    feedback: bool = Field(True, description="collect corrections from the page")
    feedback_per_minute: int = Field(20, ge=1, description="corrections one client (address) may send per minute, "
                                                           "per server process; more answer 429")
    feedback_max_rows: int = Field(100_000, ge=0, description="the feedback store's cap in rows; more answer 507 "
                                                              "(0: no cap)")
    feedback_max_mb: float = Field(1000.0, ge=0, description="the feedback store's cap in MB (10^6 bytes) of stored "
                                                             "images; more answer 507 (0: no cap)")
    allowed_hosts: str = Field("localhost,127.0.0.1,[::1]", description="comma-separated host names the server "
                               "answers to (the Host header, any port); others get 400. '*': any host")
    trusted_proxies: str = Field("127.0.0.1", description="addresses whose X-Forwarded-For and X-Forwarded-Proto "
                                 "are believed (uvicorn's forwarded_allow_ips; comma-separated, '*': any)")
    max_requests_in_flight: int = Field(64, ge=1, description="requests one server process works on at once; "
                                                               "more answer 503 at once (health checks are not counted)")
    max_bytes_in_flight: int = Field(50_000_000, ge=1024, description="request body bytes one server process holds "
                                     "at once; a body that would pass it answers 503 at once")
    max_connections: int = Field(0, ge=0, description="open connections per server process; a new one over it "
                                 "closes the longest-idle one (0: the file-descriptor limit less 128)")
    download_timeout: float = Field(600.0, gt=0, description="seconds a response may take to reach the client once "
                                                             "it has started (large static files on slow links)")
    log_level: str = Field("info", description="logging level")
    access_log: bool = Field(True, description="log one line per request (uvicorn's access log; 0.02-0.08 ms of CPU each)")

    def host_names(self) -> frozenset[str] | None:
        """``allowed_hosts`` as lower-case names (None: any host)."""
        names = {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}
        return None if "*" in names else frozenset(names)
