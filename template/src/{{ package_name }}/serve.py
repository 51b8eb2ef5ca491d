"""Prediction service: POST /predict, GET /health (alive) and GET /ready (model loaded).

The request model is derived from the data schema, so every field is range-checked
and a bad request gets a 422 that names the field, never a 500.
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from .config import get_settings
from .data import DataError, validate
from .log import configure, logger
from .pipeline import load_model, predict
from .schema import CLASSES, FEATURES, MAX_BATCH_ROWS, inference_schema

Record = create_model(
    "Record",
    __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
    **{
        feature.name: (
            float,
            Field(ge=feature.minimum, le=feature.maximum, description=feature.description),
        )
        for feature in FEATURES
    },
)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: Annotated[list[Record], Field(min_length=1, max_length=MAX_BATCH_ROWS)]


class Prediction(BaseModel):
    predicted: str
    probabilities: dict[str, float]


class PredictResponse(BaseModel):
    predictions: list[Prediction]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure()
    settings = get_settings()
    try:
        app.state.model = load_model(settings.model_path)
    except FileNotFoundError as error:
        app.state.model = None
        logger.warning("model_missing", detail=str(error))
    yield


app = FastAPI(title="{{ project_name }}", lifespan=lifespan)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one entry per bad field; the offending input is echoed only when JSON-safe."""
    details = [
        {key: value for key, value in detail.items() if key not in ("input", "ctx", "url")}
        for detail in error.errors()
    ]
    logger.info("request_rejected", path=request.url.path, errors=len(details))
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(details)})


@app.middleware("http")
async def log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    logger.info(
        "request",
        method=request.method,
        path=request.url.path,
        status=response.status_code,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@app.get("/ready")
def ready(request: Request) -> dict[str, str]:
    """Readiness: a model is loaded and predictions can be served."""
    if request.app.state.model is None:
        raise HTTPException(status_code=503, detail="no model loaded: run `make train` first")
    return {"status": "ready"}


@app.post("/predict")
def predict_records(body: PredictRequest, request: Request) -> PredictResponse:
    """Predict the class of one or many records."""
    model = request.app.state.model
    if model is None:
        raise HTTPException(status_code=503, detail="no model loaded: run `make train` first")
    frame = pd.DataFrame([record.model_dump() for record in body.records])
    try:
        frame = validate(frame, inference_schema(MAX_BATCH_ROWS))
    except DataError as error:
        raise HTTPException(status_code=422, detail=str(error)) from error
    result = predict(model, frame)
    return PredictResponse(
        predictions=[
            Prediction(
                predicted=row["predicted"],
                probabilities={label: float(row[f"probability_{label}"]) for label in CLASSES},
            )
            for row in result.to_dict(orient="records")
        ]
    )
