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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITPAD_", extra="ignore", protected_namespaces=())

    data_dir: Path | None = Field(None, description="folder with the four MNIST IDX files (default: per-user cache, downloaded on first use)")
    model: Path | None = Field(None, description="path to a digitpad .onnx model (default: the shipped model)")
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
    admin_token: str | None = Field(None, description="bearer token for the feedback admin API (unset: admin API off)")
    feedback: bool = Field(True, description="collect corrections from the page")
    log_level: str = Field("info", description="logging level")
    access_log: bool = Field(True, description="log one line per request (uvicorn's access log; 0.02-0.08 ms of CPU each)")
