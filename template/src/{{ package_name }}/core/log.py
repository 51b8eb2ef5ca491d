# Template file (copier-mlops): `copier update` merges new versions into it.
"""Structured logs: JSON lines in CI and services, readable lines on a terminal.

Every event carries the run id, so the lines of one training run or one service
process can be pulled together from any log store.
"""

import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

logger = structlog.get_logger()
_step_timings: ContextVar[dict[str, float] | None] = ContextVar("step_timings", default=None)


def configure(*, json_logs: bool | None = None, level: int = logging.INFO) -> str:
    """Set up structlog once per process and return the run id bound to every event."""
    run_id = uuid.uuid4().hex[:12]
    render_json = not sys.stderr.isatty() if json_logs is None else json_logs
    renderer = (
        structlog.processors.JSONRenderer()
        if render_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Look sys.stderr up at each event, so a redirected stream (tests, CLIs) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(run_id=run_id)
    return run_id


@contextmanager
def step(name: str, **fields: object) -> Iterator[None]:
    """Log one pipeline step with its duration and the shape of its input."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        logger.error("step_failed", step=name, **fields)
        raise
    duration = round(time.perf_counter() - started, 4)
    logger.info("step", step=name, duration_s=duration, **fields)
    timings = _step_timings.get()
    if timings is not None:
        timings[name] = round(timings.get(name, 0.0) + duration, 4)


@contextmanager
def timed_steps() -> Iterator[dict[str, float]]:
    """Collect the duration (seconds) of every step run inside the block, by step name."""
    timings: dict[str, float] = {}
    token = _step_timings.set(timings)
    try:
        yield timings
    finally:
        _step_timings.reset(token)
