"""Monitoring benchmarks of a generated project, measured side by side in one run.

    python3 -m uv run scripts/bench_monitoring.py [--requests 400] [--rounds 5] [--write]

1. Request throughput of the generated service (POST /predict, one record, in process
   through httpx2's ASGI transport, so the network stack does not hide the cost) with the
   monitoring as generated, without the metrics middleware, and without any monitoring
   (no middleware, no prediction metrics, no drift window). Variants alternate within
   each round; the medians are compared.
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
import httpx2 as httpx, numpy as np, pandas as pd
from wine_quality import serve
from wine_quality.data import validate
from wine_quality.monitoring import metrics
from wine_quality.schema import FEATURES, FEATURE_NAMES, ID_COLUMN, inference_schema

requests, rounds = int(sys.argv[1]), int(sys.argv[2])
golden = pd.read_csv("data/golden/wine.csv")
record = golden[list(FEATURE_NAMES)].iloc[0].to_dict()
app = serve.app
with_middleware = list(app.user_middleware)
without_middleware = [m for m in with_middleware if m.cls is not metrics.MetricsMiddleware]
observe, drift = metrics.observe_predictions, None

def configure(variant):
    app.user_middleware = with_middleware if variant == "monitored" else without_middleware
    app.middleware_stack = None
    serve.metrics.observe_predictions = observe if variant != "bare" else (lambda *a: None)
    app.state.drift = drift if variant != "bare" else None

async def throughput(client):
    started = time.perf_counter()
    for _ in range(requests):
        response = await client.post("/predict", json={"records": [record]})
        assert response.status_code == 200
    return requests / (time.perf_counter() - started)

async def main():
    global drift
    results = {"monitored": [], "no_middleware": [], "bare": []}
    async with serve.lifespan(app):
        drift = app.state.drift
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            configure("monitored"); await throughput(client)  # warm-up
            for _ in range(rounds):
                for variant in results:
                    configure(variant)
                    results[variant].append(await throughput(client))
    return {name: statistics.median(values) for name, values in results.items()}

service = asyncio.run(main())

# The monitoring work of one request, timed in isolation: end-to-end differences of a few
# percent are within the run-to-run noise of a shared machine, these are not.
def per_call(action, calls=5000):
    started = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - started) / calls

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
one = pd.DataFrame([record])[list(FEATURE_NAMES)]
predicted, probabilities = np.array(["class_0"], dtype=object), np.array([[0.9, 0.05, 0.05]])
components = {
    "metrics middleware": per_call(lambda: loop.run_until_complete(wrapped(scope, receive, send)))
    - per_call(lambda: loop.run_until_complete(endpoint(scope, receive, send))),
    "prediction metrics": per_call(lambda: observe(predicted, probabilities, 0.6)),
    "drift window update": per_call(lambda: drift.add(one)),
}

rng = np.random.default_rng(0)
frame = golden.sample(1_000_000, replace=True, random_state=0).reset_index(drop=True)
frame[ID_COLUMN] = np.arange(len(frame))
frame = frame.drop(columns="cultivar")
schema = inference_schema()

def timed(action, repeat=3):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter(); action(); samples.append(time.perf_counter() - started)
    return statistics.median(samples)

def by_hand():
    ok = frame[ID_COLUMN].is_unique and frame[ID_COLUMN].notna().all()
    for feature in FEATURES:
        column = frame[feature.name]
        ok &= bool(column.notna().all() and column.between(feature.minimum, feature.maximum).all())
    assert ok

checks = {
    "pandera": timed(lambda: validate(frame, schema)),
    "plain_pass": timed(lambda: frame.sum()),
    "by_hand": timed(by_hand),
}
results = {"service": service, "components": components, "checks": checks, "rows": len(frame)}
print(json.dumps(results))
"""


def measure(project: Path, requests: int, rounds: int) -> dict:
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=ENV, check=True)
    subprocess.run(["uv", "run", "wine_quality", "train"], cwd=project, env=ENV, check=True,
                   capture_output=True)  # fmt: skip
    result = subprocess.run(
        ["uv", "run", "python", "-c", INNER, str(requests), str(rounds)],
        cwd=project, env=ENV, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(results: dict, requests: int, rounds: int) -> str:
    service, checks = results["service"], results["checks"]
    monitored = service["monitored"]
    return "\n".join(
        [
            f"Service: POST /predict with one record, {requests} requests x {rounds} rounds "
            "per variant, medians.",
            "",
            "| variant | requests/s | cost of monitoring |",
            "|---|---:|---:|",
            f"| monitoring as generated | {monitored:.0f} | - |",
            f"| without the metrics middleware | {service['no_middleware']:.0f} | "
            f"{1 - monitored / service['no_middleware']:+.1%} |",
            f"| without any monitoring | {service['bare']:.0f} | "
            f"{1 - monitored / service['bare']:+.1%} |",
            "",
            "The monitoring work of one request, timed in isolation (5,000 calls each):",
            "",
            "| component | microseconds per request | share of a monitored request |",
            "|---|---:|---:|",
            *(
                f"| {name} | {seconds * 1e6:.0f} | {seconds * monitored:.2%} |"
                for name, seconds in results["components"].items()
            ),
            f"| all monitoring | {sum(results['components'].values()) * 1e6:.0f} | "
            f"{sum(results['components'].values()) * monitored:.2%} |",
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
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--project", type=Path, help="An already generated project to use.")
    parser.add_argument("--write", action="store_true", help="Update docs/performance.md.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = args.project or generate(Path(folder) / "wine-quality")
        text = table(measure(project, args.requests, args.rounds), args.requests, args.rounds)
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
