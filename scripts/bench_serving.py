"""Serving benchmark: the generated service against a minimal FastAPI peer, over HTTP.

    python3 -m uv run scripts/bench_serving.py [--rounds 5] [--seconds 10] [--write]

Both serve the same trained model of a freshly generated default project, one uvicorn
worker each, on loopback:

- the generated service, started with its Dockerfile's CMD (bound to 127.0.0.1), JSON
  logs to a file as a container runtime would keep them, monitoring on;
- the peer: the same pydantic record model (schema.py's contract), the records as a
  DataFrame, the project's `build_features`, the saved model's `predict_proba` (or
  `predict`), the same response shape; no pandera, metrics, logs or fast path.

wrk (Debian's package) drives each with POST /predict bodies of 1, 100 and 1000 golden
records (one thread, 4 connections). Rounds alternate the order of the two services;
the medians of requests/s, p50 and p99 latency and the ratio come from the same run.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import ROOT, generate, set_up

PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- serving-benchmarks:start -->", "<!-- serving-benchmarks:end -->"
BATCHES = (1, 100, 1000)
PACKAGE = "wine_quality"

PEER = '''\
"""A minimal FastAPI service of the same model: pydantic, a DataFrame, the features, the model."""

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from {package}.features import build_features
from {package}.schema import CONTRACT

model = joblib.load("models/model.joblib")
Record = CONTRACT.record_model()
app = FastAPI()


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[Record]


@app.post("/predict")
def predict(body: Request) -> dict:
    frame = pd.DataFrame([record.model_dump() for record in body.records])
    features = build_features(frame)
    if not CONTRACT.is_classification:
        return {{"predictions": [{{"predicted": float(v)}} for v in model.predict(features)]}}
    probabilities = model.predict_proba(features)
    labels = [str(label) for label in model.classes_]
    return {{
        "predictions": [
            {{"predicted": labels[row.argmax()], "probabilities": dict(zip(labels, row.tolist()))}}
            for row in probabilities
        ]
    }}
'''

WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_command(project: Path, port: int) -> list[str]:
    """The Dockerfile's CMD, bound to loopback on `port`."""
    line = next(
        line for line in (project / "Dockerfile").read_text().splitlines()
        if line.startswith("CMD ")
    )  # fmt: skip
    command = json.loads(line.removeprefix("CMD "))
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    return [str(project / ".venv/bin" / command[0]), *command[1:]]


def start(command: list[str], project: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = command[command.index("--port") + 1]
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=project, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/openapi.json", timeout=2):
                return process, base
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{command[0]} did not start within 60 s")


def wrk(base: str, script: Path, seconds: int) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", "-s", str(script), f"{base}/predict"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    text = result.stdout
    if "Non-2xx" in text:
        raise SystemExit(f"{base} answered errors under load:\n{text}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])
    latency = {
        share: _milliseconds(re.search(rf"^\s+{share}%\s+(\S+)", text, re.MULTILINE)[1])
        for share in ("50", "99")
    }
    return {"rps": rate, "p50_ms": latency["50"], "p99_ms": latency["99"]}


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def bodies(project: Path, env: dict[str, str], work: Path) -> dict[int, Path]:
    """Lua scripts posting 1, 100 and 1000 golden records (features only)."""
    described = subprocess.run(
        [str(project / ".venv/bin/python"), "-c",
         f"from {PACKAGE}.schema import CONTRACT as c; "
         f"from {PACKAGE}.core.data import load_training_data; "
         f"from {PACKAGE}.core.config import get_settings; "
         "f = load_training_data(get_settings().golden_path)[list(c.feature_names)]; "
         "print(f.to_json(orient='records'))"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    records = json.loads(described)
    scripts = {}
    for size in BATCHES:
        body = work / f"body-{size}.json"
        body.write_text(json.dumps({"records": [records[i % len(records)] for i in range(size)]}))
        script = work / f"post-{size}.lua"
        script.write_text(WRK_SCRIPT.format(body=body))
        scripts[size] = script
    return scripts


def measure(rounds: int, seconds: int) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as temporary:
        work = Path(temporary)
        project = generate(work / "wine-quality")
        env = set_up(project)
        subprocess.run(["make", "train"], cwd=project, env={**os.environ, **env}, check=True,
                       capture_output=True)  # fmt: skip
        (project / "peer.py").write_text(PEER.format(package=PACKAGE))
        scripts = bodies(project, env, work)
        peer_port = free_port()
        commands = {
            "generated": service_command(project, free_port()),
            "peer": [str(project / ".venv/bin/uvicorn"), "peer:app", "--host", "127.0.0.1",
                     "--port", str(peer_port), "--log-level", "warning"],
        }  # fmt: skip
        results = {name: {size: [] for size in BATCHES} for name in commands}
        running = {
            name: start(command, project, work / f"{name}.log")
            for name, command in commands.items()
        }
        try:
            for _, base in running.values():  # warm-up: first requests load lazily
                for size in BATCHES:
                    wrk(base, scripts[size], 2)
            for round_index in range(rounds):
                order = list(commands) if round_index % 2 == 0 else list(commands)[::-1]
                for size in BATCHES:
                    for name in order:
                        results[name][size].append(wrk(running[name][1], scripts[size], seconds))
                print(f"round {round_index + 1}/{rounds} done", file=sys.stderr)
        finally:
            for process, _ in running.values():
                process.terminate()
                process.wait(timeout=30)
    return {
        name: {
            size: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            for size, runs in sizes.items()
        }
        for name, sizes in results.items()
    }


def table(results: dict, rounds: int, seconds: int) -> str:
    lines = [
        f"POST /predict over loopback, wrk -t1 -c4, {seconds} s per measurement, {rounds} "
        "alternating rounds, medians. One uvicorn worker each.",
        "",
        "| records per request | generated req/s | peer req/s | ratio | generated p50 / p99 ms "
        "| peer p50 / p99 ms | p99 ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in BATCHES:
        ours, peer = results["generated"][size], results["peer"][size]
        lines.append(
            f"| {size} | {ours['rps']:.0f} | {peer['rps']:.0f} | {ours['rps'] / peer['rps']:.2f}x "
            f"| {ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} "
            f"| {peer['p50_ms']:.1f} / {peer['p99_ms']:.1f} "
            f"| {ours['p99_ms'] / peer['p99_ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--write", action="store_true", help=f"update {PERFORMANCE.name}")
    args = parser.parse_args()
    results = measure(args.rounds, args.seconds)
    text = table(results, args.rounds, args.seconds)
    print(text)
    if args.write:
        page = PERFORMANCE.read_text()
        before, rest = page.split(START, 1)
        _, after = rest.split(END, 1)
        PERFORMANCE.write_text(f"{before}{START}\n{text}\n{END}{after}")


if __name__ == "__main__":
    main()
