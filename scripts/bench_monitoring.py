"""Monitoring benchmarks of a generated project, measured side by side in one run.

    python3 -m uv run scripts/bench_monitoring.py [--rounds 5] [--write]

1. The monitoring work of one request, each part timed in isolation in the project's
   environment: the metrics middleware (count, time, log) around an empty ASGI app, the
   prediction metrics of one prediction, the drift window update of one record. How the
   whole service compares with a service without any of it, over HTTP, is
   scripts/bench_serving.py's job (the service as a client reaches it).
2. The pandera sanity checks (`data.validate` with the inference schema) on one million
   rows, against one plain pandas pass over the same frame (`frame.sum()`) and against the
   same checks written by hand in pandas.
Ratios are reported, not absolute times: they travel between machines.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import ROOT, generate

PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- monitoring-benchmarks:start -->", "<!-- monitoring-benchmarks:end -->"
ENV = {**os.environ, "VIRTUAL_ENV": "", "PYTHONDONTWRITEBYTECODE": ""}

# Runs inside the generated project's environment; prints one JSON object.
INNER = r"""
import asyncio, json, statistics, sys, time
import numpy as np, pandas as pd
from wine_quality.core.config import get_settings
from wine_quality.core.contract import Numeric
from wine_quality.core.data import load_training_data, validate
from wine_quality.core.monitoring import metrics
from wine_quality.core.monitoring.drift import DriftWindow, Reference
from wine_quality.core.monitoring.thresholds import Thresholds
from wine_quality.core.pipeline import load_model, predict
from wine_quality.schema import CONTRACT

rounds = int(sys.argv[1])
settings = get_settings()
golden = load_training_data(settings.golden_path)
one = golden[list(CONTRACT.feature_names)].head(1)
predictions = predict(load_model(settings.model_path), one)
thresholds = Thresholds.load(settings.thresholds_path)
drift = DriftWindow(Reference.from_frame(golden), thresholds.drift_window_rows)

def per_call(action, calls=5000):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            action()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)

async def endpoint(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})

async def receive():
    return {"type": "http.request"}

async def send(message):
    pass

loop = asyncio.new_event_loop()
scope = {"type": "http", "method": "POST", "path": "/predict"}
wrapped = metrics.MetricsMiddleware(endpoint)
components = {
    "metrics middleware (count, time, log)": per_call(
        lambda: loop.run_until_complete(wrapped(scope, receive, send))
    ) - per_call(lambda: loop.run_until_complete(endpoint(scope, receive, send))),
    "prediction metrics": per_call(lambda: metrics.observe_predictions(predictions, thresholds)),
    "drift window update": per_call(lambda: drift.add(one)),
}

frame = golden.sample(1_000_000, replace=True, random_state=0).reset_index(drop=True)
frame[CONTRACT.id_column] = np.arange(len(frame))
frame = frame.drop(columns=CONTRACT.target)
schema = CONTRACT.inference_schema()

def timed(action, repeat=3):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter(); action(); samples.append(time.perf_counter() - started)
    return statistics.median(samples)

def by_hand():
    ids = frame[CONTRACT.id_column]
    ok = ids.is_unique and ids.notna().all()
    for column in CONTRACT.of_kind(Numeric):
        values = frame[column.name]
        low = -np.inf if column.minimum is None else column.minimum
        high = np.inf if column.maximum is None else column.maximum
        ok &= bool(values.notna().all() and values.between(low, high).all())
    assert ok

checks = {
    "pandera": timed(lambda: validate(frame, schema)),
    "plain_pass": timed(lambda: frame.sum(numeric_only=True)),
    "by_hand": timed(by_hand),
}
print(json.dumps({"components": components, "checks": checks, "rows": len(frame)}))
"""


def measure(project: Path, rounds: int) -> dict:
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=ENV, check=True)
    subprocess.run(["uv", "run", "wine_quality", "train"], cwd=project, env=ENV, check=True,
                   capture_output=True)  # fmt: skip
    result = subprocess.run(
        ["uv", "run", "python", "-c", INNER, str(rounds)],
        cwd=project, env=ENV, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(results: dict, rounds: int) -> str:
    checks, components = results["checks"], results["components"]
    return "\n".join(
        [
            f"The monitoring work of one request, timed in isolation (5,000 calls, median of "
            f"{rounds} rounds):",
            "",
            "| component | microseconds per request |",
            "|---|---:|",
            *(f"| {name} | {seconds * 1e6:.0f} |" for name, seconds in components.items()),
            f"| all monitoring | {sum(components.values()) * 1e6:.0f} |",
            "",
            f"Sanity checks on {results['rows']:,} rows (median of 3):",
            "",
            "| work | seconds | relative to one pandas pass |",
            "|---|---:|---:|",
            f"| one plain pandas pass (`frame.sum()`) | {checks['plain_pass']:.3f} | 1.0x |",
            f"| the same checks by hand in pandas | {checks['by_hand']:.3f} | "
            f"{checks['by_hand'] / checks['plain_pass']:.1f}x |",
            f"| pandera `data.validate` (inference schema) | {checks['pandera']:.3f} | "
            f"{checks['pandera'] / checks['plain_pass']:.1f}x |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--project", type=Path, help="An already generated project to use.")
    parser.add_argument("--write", action="store_true", help="Update docs/performance.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = args.project or generate(Path(folder) / "wine-quality")
        text = table(measure(project, args.rounds), args.rounds)
    print(text)
    if args.write:
        page = PERFORMANCE.read_text()
        if START not in page:
            raise SystemExit(f"{PERFORMANCE} has no {START} ... {END} section")
        before, rest = page.split(START, 1)
        after = rest.split(END, 1)[1]
        PERFORMANCE.write_text(f"{before}{START}\n{text}\n{END}{after}")


if __name__ == "__main__":
    main()
