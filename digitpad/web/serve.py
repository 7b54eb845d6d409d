"""Running the app: ``digitpad serve`` -> uvicorn, one process or a supervisor and N workers.

    digitpad serve [--host 127.0.0.1] [--port 8000] [--workers N] [--model PATH]

Workers are spawned fresh by uvicorn's supervisor, so they get the settings through the
environment (``settings_to_env``) and build their app with ``app_from_env``. On Linux each
worker listens on a socket of its own (``sockets``).
"""

from __future__ import annotations

import json
import logging
import os

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from ..predict import Predictor
from ..settings import Settings
from . import sockets, uvicorn_limits
from .app import check_settings, create_app

log = logging.getLogger("uvicorn.error")


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (``--workers N``): Settings come from DIGITPAD_* env vars."""
    return create_app(Settings())


def settings_to_env(settings: Settings) -> None:
    """Hand the settings to worker processes: uvicorn spawns them fresh, so they re-read the env."""
    for name, value in settings.model_dump().items():
        key = f"DIGITPAD_{name.upper()}"
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = str(value).lower() if isinstance(value, bool) else str(value)


def log_config(level: str) -> dict:
    """uvicorn's logging config plus the digitpad loggers (worker processes start with none)."""
    cfg = json.loads(json.dumps(LOGGING_CONFIG))
    cfg["loggers"]["digitpad"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return cfg


def serve(settings: Settings) -> None:
    """Run the app under uvicorn (blocking). ``workers > 1`` runs that many processes."""
    # Fail fast, as one line plus a hint from the CLI, rather than as a traceback from the lifespan.
    check_settings(settings)
    port = sockets.check_address(settings.host, settings.port)
    Predictor(settings.model, threads=settings.threads)
    uvicorn_limits.raise_fd_limit()  # before the workers start: they inherit it
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.allowed_hosts == \
            Settings.model_fields["allowed_hosts"].default:
        log.warning("serving on %s, but only requests naming %s are answered: set DIGITPAD_ALLOWED_HOSTS to the "
                    "names other machines reach this one by", settings.host, settings.allowed_hosts)
    # The client's address for rate limits and logs: X-Forwarded-For, believed from trusted proxies only.
    common = dict(host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                  log_config=log_config(settings.log_level), access_log=settings.access_log, server_header=False,
                  http=uvicorn_limits.http_protocol(settings), proxy_headers=True,
                  forwarded_allow_ips=settings.trusted_proxies)
    if settings.workers > 1:
        settings_to_env(settings)
        common["port"] = port  # --port 0: the free port found, the same for every worker
        sockets.run_workers(uvicorn.Config("digitpad.web.serve:app_from_env", factory=True, workers=settings.workers,
                                           **common), settings.host, port)
    else:
        uvicorn.run(create_app(settings), **common)
