"""Data engine benchmarks, measured side by side in one run; results go to docs/performance.md.

    python3 -m uv run scripts/bench_engines.py [--rows 16000000] [--cap-mib 512] [--write]

Generates a small, a medium and a large project, installs them, and runs each measured
step in a child process of the project's own interpreter, so its peak memory is the
child's own (the kernel's peak resident set size, from wait4):

1. medium: the whole training run (`fit_dataset`: CSV validated into parquet, split,
   features, out-of-core ordering, incremental training, held-out scores) on a synthetic
   dataset at least four times larger in memory than the cap; its peak memory must stay
   under the cap. Then pandas (small) and polars (medium) side by side on the largest
   size pandas processes under the cap.
2. large: validation and features of a synthetic dataset on a LocalCluster of 1 and of
   2 worker processes (the speed-up of the distributed steps).
3. small: rows/s of the full pipeline (load, validate, split, features, train, evaluate,
   predict) on the golden data.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import ROOT, generate

PERFORMANCE = ROOT / "docs" / "performance.md"
START, END = "<!-- engine-benchmarks:start -->", "<!-- engine-benchmarks:end -->"
ENV = {**os.environ, "VIRTUAL_ENV": "", "PYTHONDONTWRITEBYTECODE": ""}
MIB = 1024 * 1024

# Each step runs in the project's interpreter and prints one JSON line of results.
TRAIN_FILE = """
import json, sys, time
from pathlib import Path
from bench.config import Settings
settings = Settings()
path = Path(sys.argv[1])
from bench import pipeline
from bench.data import load_training_data
started = time.perf_counter()
if hasattr(pipeline, "fit_dataset"):  # medium and large: read in batches
    _, metrics, _ = pipeline.fit_dataset(path, settings)
else:  # small: one pandas frame
    metrics = pipeline.run(load_training_data(path, verify=False), settings).metrics
print(json.dumps({"seconds": time.perf_counter() - started, "accuracy": metrics["accuracy"]}))
"""
FEATURES_ON_WORKERS = """
import json, sys, time
from pathlib import Path
from distributed import Client, LocalCluster
from bench.config import Settings
from bench.features import build_features
from bench.pipeline import scan
settings = Settings()
workers = int(sys.argv[2])
with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster:
    with Client(cluster):
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            build_features(scan(Path(sys.argv[1]), settings)).sum().compute()
            timings.append(time.perf_counter() - started)
print(json.dumps({"seconds": sorted(timings)[1]}))
"""
GOLDEN_PIPELINE = """
import json, time
from bench.config import Settings
from bench.data import load_training_data
from bench.pipeline import run
settings = Settings()
timings = []
for _ in range(7):
    started = time.perf_counter()
    frame = load_training_data(settings.golden_path)
    run(frame, settings)
    timings.append(time.perf_counter() - started)
print(json.dumps({"seconds": sorted(timings)[3], "rows": len(frame)}))
"""


def install(size: str, workdir: Path) -> Path:
    project = generate(workdir / size, project_name="Bench", data_size=size)
    subprocess.run(["uv", "sync", "--quiet"], cwd=project, env=ENV, check=True)
    return project


def measure(project: Path, code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in the project's interpreter; its JSON result plus its peak memory (MiB)."""
    child = subprocess.Popen(
        [str(project / ".venv/bin/python"), "-c", code, *args],
        cwd=project,
        env={**ENV, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"benchmark step failed in {project}:\n{output}")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_mib": usage.ru_maxrss / 1024}


def synthesize(project: Path, rows: int, out: Path) -> Path:
    if not out.is_file():
        subprocess.run(
            [".venv/bin/bench", "data", "synthesize", "--rows", str(rows), "--out", str(out)],
            cwd=project,
            env=ENV,
            check=True,
            capture_output=True,
        )
    return out


def in_memory_mib(project: Path, path: Path, rows: int) -> float:
    """Memory pandas needs for the dataset: a 100,000-row sample, scaled."""
    code = (
        "import sys, pandas as pd; f = pd.read_csv(sys.argv[1], nrows=100_000); "
        "print(f.memory_usage(deep=True).sum() / len(f))"
    )
    per_row = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", code, str(path)],
        capture_output=True, text=True, check=True, env=ENV,
    ).stdout  # fmt: skip
    return float(per_row) * rows / MIB


def benchmark(rows: int, cap_mib: int, pandas_sizes: list[int], workdir: Path) -> dict:
    small, medium, large = (install(size, workdir) for size in ("small", "medium", "large"))
    data = workdir / "data"
    data.mkdir()
    # One pass over the data per epoch, in large batches: the benchmark measures the
    # engine, not the number of SGD passes a model needs.
    fast_training = {"BENCH_ENGINE__EPOCHS": "1", "BENCH_ENGINE__BATCH_SIZE": "10000"}
    cache = {"BENCH_ENGINE__CACHE_DIR": str(workdir / "cache")}
    results: dict = {"cap_mib": cap_mib, "machine": machine()}

    big = synthesize(medium, rows, data / f"synthetic-{rows}.csv")
    results["medium_big"] = {
        "rows": rows,
        "csv_mib": big.stat().st_size / MIB,
        "in_memory_mib": in_memory_mib(medium, big, rows),
        **measure(medium, TRAIN_FILE, str(big), env={**fast_training, **cache}),
    }

    side_by_side = []
    for size in sorted(pandas_sizes, reverse=True):
        path = synthesize(medium, size, data / f"synthetic-{size}.csv")
        on_pandas = measure(small, TRAIN_FILE, str(path))
        if on_pandas["peak_mib"] > cap_mib:
            side_by_side.append({"rows": size, "pandas": on_pandas, "fits": False})
            continue
        on_polars = measure(medium, TRAIN_FILE, str(path), env={**fast_training, **cache})
        side_by_side.append({"rows": size, "pandas": on_pandas, "polars": on_polars, "fits": True})
        break
    results["pandas_vs_polars"] = side_by_side

    features_rows = max(pandas_sizes)
    path = synthesize(medium, features_rows, data / f"synthetic-{features_rows}.csv")
    results["large_features"] = {
        "rows": features_rows,
        **{
            f"workers_{count}": measure(large, FEATURES_ON_WORKERS, str(path), str(count))
            for count in (1, 2)
        },
    }
    results["small_golden"] = measure(small, GOLDEN_PIPELINE)
    return results


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    load = os.getloadavg()[0]
    return (
        f"{platform.system()} {platform.machine()}, {cores} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start"
    )


def table(results: dict) -> str:
    cap = results["cap_mib"]
    big = results["medium_big"]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {results['machine']}, with "
        "`python3 -m uv run scripts/bench_engines.py`; each step is a child process of the "
        "generated project's interpreter, and peak memory is its peak resident set size.",
        "",
        f"**medium, out of core:** {big['rows']:,} synthetic rows ({big['csv_mib']:,.0f} MiB of "
        f"CSV, {big['in_memory_mib']:,.0f} MiB as a pandas frame: "
        f"{big['in_memory_mib'] / cap:.1f}x the {cap} MiB cap) trained from the CSV file in "
        f"{big['seconds']:.0f} s ({big['rows'] / big['seconds']:,.0f} rows/s), peak memory "
        f"**{big['peak_mib']:,.0f} MiB** ({'under' if big['peak_mib'] <= cap else 'OVER'} the "
        f"cap); held-out accuracy {big['accuracy']:.3f}. One epoch, batches of 10,000 rows.",
        "",
        "| rows | engine | seconds | rows/s | peak MiB | under the cap |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for entry in results["pandas_vs_polars"]:
        for engine in ("pandas", "polars"):
            if engine not in entry:
                continue
            run = entry[engine]
            lines.append(
                f"| {entry['rows']:,} | {engine} | {run['seconds']:.1f} | "
                f"{entry['rows'] / run['seconds']:,.0f} | {run['peak_mib']:,.0f} | "
                f"{'yes' if run['peak_mib'] <= cap else 'no'} |"
            )
    fitting = [entry for entry in results["pandas_vs_polars"] if entry["fits"]]
    if fitting:
        entry = fitting[0]
        ratio = entry["pandas"]["seconds"] / entry["polars"]["seconds"]
        lines += [
            "",
            f"On the largest size pandas processes under the cap ({entry['rows']:,} rows), "
            f"polars runs at **{ratio:.2f}x** the rows/s of pandas (pandas: the small "
            "project's whole-frame `LogisticRegression`; polars: the medium project's "
            "incremental training, one epoch).",
        ]
    features = results["large_features"]
    one, two = features["workers_1"]["seconds"], features["workers_2"]["seconds"]
    golden = results["small_golden"]
    lines += [
        "",
        f"**large, distributed:** validation and features of {features['rows']:,} rows on a "
        f"LocalCluster: {one:.1f} s on 1 worker, {two:.1f} s on 2 workers, a speed-up of "
        f"**{one / two:.2f}x** (median of 3; one thread per worker process).",
        "",
        f"**small, in memory:** the full pipeline on the golden data ({golden['rows']} rows: "
        f"load, validate, split, features, train, evaluate, predict) takes "
        f"{golden['seconds'] * 1000:.0f} ms, **{golden['rows'] / golden['seconds']:,.0f} "
        "rows/s** (median of 7), dominated by fixed per-step costs at this size.",
    ]
    return "\n".join(lines)


def write(text: str) -> None:
    page = PERFORMANCE.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    PERFORMANCE.write_text(pattern.sub(f"{START}\n{text}\n{END}", page))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000_000, help="Rows of the big dataset.")
    parser.add_argument("--cap-mib", type=int, default=512, help="Memory cap, MiB.")
    parser.add_argument(
        "--pandas-rows",
        type=int,
        nargs="+",
        default=[2_000_000, 1_000_000, 500_000],
        help="Sizes tried for pandas, largest first; the first under the cap is compared.",
    )
    parser.add_argument("--write", action="store_true", help="Update docs/performance.md.")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="copier-mlops-engines-") as workdir:
        results = benchmark(arguments.rows, arguments.cap_mib, arguments.pandas_rows, Path(workdir))
    print(json.dumps(results, indent=2))
    text = table(results)
    print(text)
    if arguments.write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
