"""What the page and operators ask about the server: the model, its files, the config, health.

The model files (``/api/model.onnx``, and ``/api/sequence.onnx`` for the number reader's step 10)
are the bytes the server loaded, for on-device reading: versioned by hash in ``/api/config``'s
URLs (cached for good), revalidated by ETag otherwise, gzipped once per process.

``/healthz`` is liveness: the process answers (GET and HEAD). ``/readyz`` is readiness: the
model is loaded and the feedback store answers ``SELECT`` with its schema at head (and, for an
SQLite file, the file is still the one opened and writable): a replica whose database went away
leaves the load balancer instead of acknowledging corrections it cannot keep.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import Headers

from ..errors import NotFound, StoreError
from .deps import PredictorDep, ReaderDep, SequenceDep, SettingsDep
from .precompressed import GzipCache, accepts_gzip, gzip_response
from .schemas import ConfigResponse, ErrorResponse, HealthResponse, ReadyResponse, errors

router = APIRouter()

READY_TIMEOUT_S = 2.0  # a database that takes longer to answer is not ready
_model_gz = GzipCache()  # both model files', keyed by their sha256


@router.get("/api/model", summary="Metadata of the loaded model", tags=["model"])
async def model_info(predictor: PredictorDep) -> dict[str, Any]:
    return predictor.metadata


@router.get("/api/config", summary="Settings the page needs", response_model=ConfigResponse, tags=["model"])
async def config(reader: ReaderDep, settings: SettingsDep, sequence: SequenceDep) -> ConfigResponse:
    t = reader.thresholds  # the ones the server reads with: on-device mode answers the same
    return ConfigResponse(feedback=settings.feedback, model=reader.predictor.version, uncertain_threshold=t.uncertain,
                          not_digit_threshold=t.not_digit, doubtful_threshold=t.doubtful,
                          trained_on=reader.predictor.metadata.get("data", {}).get("trained_on", ""),
                          model_url=f"api/model.onnx?v={reader.predictor.sha256[:16]}",
                          sequence_url=f"api/sequence.onnx?v={sequence.sha256[:16]}" if sequence is not None else None)


@router.get("/api/model.onnx", summary="The model file, for on-device reading", tags=["model"],
            response_class=Response)
async def model_file(request: Request, predictor: PredictorDep) -> Response:
    """The bytes the server's own model was built from (read once, at start-up): its weights and,
    in the same file, its metadata (the page reads both from here, one versioned unit)."""
    return await _file_response(request, predictor.model_bytes, predictor.sha256)


@router.get("/api/sequence.onnx", summary="The sequence model file, for on-device number reading", tags=["model"],
            response_class=Response,
            responses={404: {"model": ErrorResponse, "description": "the server reads numbers without one "
                                                                    "(DIGITPAD_SEQUENCE=false)"}})
async def sequence_file(request: Request, sequence: SequenceDep) -> Response:
    """The bytes of the number reader's sequence model (step 10: a run of digits the reader
    doubts, read whole), as the server loaded them; 404 when the server reads without one."""
    if sequence is None:
        raise NotFound("this server reads numbers without the sequence model (DIGITPAD_SEQUENCE=false)",
                       code="sequence_disabled")
    return await _file_response(request, sequence.model_bytes, sequence.sha256)


async def _file_response(request: Request, data: bytes, sha256: str) -> Response:
    """A model file's bytes: gzipped when the client takes it, an ETag of its hash, cached for
    good under its versioned URL (?v=<hash>), revalidated otherwise."""
    etag = f'"{sha256[:16]}"'
    # ?v=<hash> URLs never change content: cache for good. Otherwise revalidate by ETag.
    fixed = request.query_params.get("v") == sha256[:16]
    headers = {"content-type": "application/octet-stream",
               "cache-control": "public, max-age=31536000, immutable" if fixed else "no-cache"}
    request_headers = Headers(scope=request.scope)
    if accepts_gzip(request_headers):
        gz = await _model_gz.get(sha256, lambda: data)
        return gzip_response(gz, etag, headers, request_headers)
    headers.update({"etag": etag, "vary": "accept-encoding"})
    if request_headers.get("if-none-match", "").strip() == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, headers=headers)


@router.get("/healthz", summary="Liveness", response_model=HealthResponse, tags=["health"])
@router.head("/healthz", include_in_schema=False)
async def healthz(predictor: PredictorDep) -> HealthResponse:
    return HealthResponse(status="ok", model=predictor.version)


@router.get("/readyz", summary="Readiness: the model and the feedback store", response_model=ReadyResponse,
            responses=errors(503), tags=["health"])
@router.head("/readyz", include_in_schema=False)
async def readyz(request: Request, predictor: PredictorDep) -> ReadyResponse:
    store = request.app.state.store
    if store is not None:
        with anyio.move_on_after(READY_TIMEOUT_S) as waited:
            await anyio.to_thread.run_sync(store.ready, abandon_on_cancel=True)
        if waited.cancelled_caught:
            raise StoreError(f"the feedback database did not answer within {READY_TIMEOUT_S:g} s")
    return ReadyResponse(status="ready", model=predictor.version, store="ok" if store is not None else "off")
