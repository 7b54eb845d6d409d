"""What the page and operators ask about the server: the model, its file, the config, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .deps import PredictorDep, ReaderDep, SettingsDep
from .schemas import ConfigResponse, HealthResponse

router = APIRouter()


@router.get("/api/model", summary="Metadata of the loaded model", tags=["model"])
async def model_info(predictor: PredictorDep) -> dict[str, Any]:
    return predictor.metadata


@router.get("/api/config", summary="Settings the page needs", response_model=ConfigResponse, tags=["model"])
async def config(reader: ReaderDep, settings: SettingsDep) -> ConfigResponse:
    t = reader.thresholds  # the ones the server reads with: on-device mode answers the same
    return ConfigResponse(feedback=settings.feedback, model=reader.predictor.version, uncertain_threshold=t.uncertain,
                          not_digit_threshold=t.not_digit, doubtful_threshold=t.doubtful,
                          model_url=f"api/model.onnx?v={reader.predictor.sha256[:16]}")


@router.get("/api/model.onnx", summary="The model file, for on-device reading", tags=["model"],
            response_class=Response)
async def model_file(request: Request, predictor: PredictorDep) -> Response:
    """The bytes the server's own model was built from (read once, at start-up)."""
    etag = predictor.sha256[:16]
    # ?v=<hash> URLs never change content: cache for good. Otherwise revalidate by ETag.
    fixed = request.query_params.get("v") == etag
    headers = {"etag": f'"{etag}"', "cache-control": "public, max-age=31536000, immutable" if fixed else "no-cache"}
    if request.headers.get("if-none-match", "").strip() == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(predictor.model_bytes, media_type="application/octet-stream", headers=headers)


@router.get("/healthz", summary="Liveness", response_model=HealthResponse, tags=["health"])
async def healthz(predictor: PredictorDep) -> HealthResponse:
    return HealthResponse(status="ok", model=predictor.version)
