"""Golden data and baselines: same inputs give the same scores, changed inputs change them.

A baseline is what a committed version of the code produced on the golden data:
the reference metrics, the predictions for every golden record, the model artefact
and a fingerprint of everything that produced them. `check` retrains and compares;
`update` records a new baseline on purpose.
"""

import hashlib
import json
import platform
import re
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .config import Settings
from .data import MANIFEST_NAME, describe_manifest_entry, load_training_data, sha256_of
from .pipeline import RunResult, load_model, predict, run, save_model
from .schema import CONTRACT

ID_COLUMN = CONTRACT.id_column

PACKAGE_DIR = Path(__file__).resolve().parent
# The modules whose code decides the scores; a change to any of them changes the fingerprint.
# A PyTorch project's network and estimator count too.
MODEL_CODE = tuple(
    name
    for name in (
        "schema.py",
        "features.py",
        "model.py",
        "pipeline.py",
        "network.py",
        "torch_model.py",
    )
    if (PACKAGE_DIR / name).is_file()
)
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
FINGERPRINT_FILE = "fingerprint.json"
MODEL_FILE = "model.joblib"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(settings: Settings, data_path: Path | None = None) -> dict:
    """Hashes of the data, parameters and model code, and the library versions used."""
    data_path = data_path or settings.golden_path
    params = json.dumps(settings.params(), sort_keys=True).encode()
    return {
        "data": {data_path.name: sha256_of(data_path)},
        "params": _digest(params),
        "code": {
            name: _digest((PACKAGE_DIR / name).read_bytes().replace(b"\r\n", b"\n"))
            for name in MODEL_CODE
        },
        "libraries": {"python": platform.python_version()}
        | {name: _installed_version(name) for name in declared_libraries()},
    }


def declared_libraries() -> list[str]:
    """The libraries this package depends on, as pyproject.toml declares them."""
    try:
        requirements = requires(__package__) or []
    except PackageNotFoundError:
        return []
    return sorted(
        {
            REQUIREMENT_NAME.match(requirement).group()
            for requirement in requirements
            if "extra ==" not in requirement
        }
    )


def _installed_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def fingerprint_changes(baseline: dict, current: dict) -> tuple[list[str], list[str]]:
    """What differs between two fingerprints: (inputs that changed, library versions)."""
    inputs = [
        f"{section}: {name}"
        for section in ("data", "code")
        for name in sorted(set(baseline[section]) | set(current[section]))
        if baseline[section].get(name) != current[section].get(name)
    ]
    if baseline["params"] != current["params"]:
        inputs.append("params: params.yml or its environment overrides")
    libraries = [
        f"{name} {baseline['libraries'].get(name, '-')} -> {current['libraries'].get(name, '-')}"
        for name in sorted(set(baseline["libraries"]) | set(current["libraries"]))
        if baseline["libraries"].get(name) != current["libraries"].get(name)
    ]
    return inputs, libraries


@dataclass(frozen=True)
class Tolerances:
    metric_absolute: float
    probability_absolute: float
    label_changes: int

    @classmethod
    def load(cls, path: Path) -> "Tolerances":
        raw = yaml.safe_load(path.read_text())
        return cls(
            metric_absolute=float(raw["metrics"]["absolute"]),
            probability_absolute=float(raw["predictions"]["probability_absolute"]),
            label_changes=int(raw["predictions"]["label_changes"]),
        )


@dataclass
class Baseline:
    metrics: dict[str, float]
    predictions: pd.DataFrame
    fingerprint: dict

    @classmethod
    def read(cls, directory: Path) -> "Baseline":
        missing = [
            name
            for name in (METRICS_FILE, PREDICTIONS_FILE, FINGERPRINT_FILE)
            if not (directory / name).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"the golden baseline in {directory} lacks {', '.join(missing)}: "
                "record one with `make golden-update`"
            )
        return cls(
            metrics=json.loads((directory / METRICS_FILE).read_text()),
            predictions=pd.read_csv(directory / PREDICTIONS_FILE),
            fingerprint=json.loads((directory / FINGERPRINT_FILE).read_text()),
        )

    def write(self, directory: Path, result: RunResult) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2) + "\n")
        (directory / FINGERPRINT_FILE).write_text(json.dumps(self.fingerprint, indent=2) + "\n")
        self.predictions.to_csv(directory / PREDICTIONS_FILE, index=False, float_format="%.10g")
        save_model(result.model, directory / MODEL_FILE)


@dataclass
class MetricDiff:
    name: str
    baseline: float | None
    current: float | None
    tolerance: float

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def ok(self) -> bool:
        return self.delta is not None and abs(self.delta) <= self.tolerance


@dataclass
class Comparison:
    """How a fresh run differs from the baseline, and what that most likely means."""

    metrics: list[MetricDiff]
    max_probability_drift: float
    label_changes: int
    rows_compared: int
    rows_missing: int
    tolerances: Tolerances
    changed_inputs: list[str] = field(default_factory=list)
    changed_libraries: list[str] = field(default_factory=list)

    @property
    def predictions_ok(self) -> bool:
        return (
            self.rows_missing == 0
            and self.max_probability_drift <= self.tolerances.probability_absolute
            and self.label_changes <= self.tolerances.label_changes
        )

    @property
    def ok(self) -> bool:
        return self.predictions_ok and all(diff.ok for diff in self.metrics)

    def verdict(self) -> str:
        inputs = ", ".join(self.changed_inputs)
        libraries = ", ".join(self.changed_libraries)
        if self.ok and not self.changed_inputs:
            return "Golden check passed: the results reproduce the baseline."
        if self.ok:
            return (
                f"Golden check passed, but inputs changed ({inputs}) without moving any result. "
                "If that was a deliberate refactor, record it with `make golden-update`; "
                "if the change should have moved the scores, the pipeline is ignoring it."
            )
        if self.changed_inputs:
            return (
                f"Results moved because inputs changed: {inputs}. If the change is deliberate, "
                "review the diff below and record the new baseline with `make golden-update`."
            )
        if self.changed_libraries:
            return (
                "The fingerprint of data, parameters and code matches the baseline but the "
                "results moved: something environmental changed, here the library versions "
                f"({libraries}). Pin them in uv.lock or record a new baseline on purpose."
            )
        return (
            "The fingerprint matches the baseline but the results moved: something "
            "non-deterministic or environmental changed (an unseeded random step, thread "
            "counts, hardware or a native library). The metric diff shows how far."
        )

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = [
            (
                diff.name,
                _number(diff.baseline),
                _number(diff.current),
                _number(diff.delta, signed=True),
                "ok" if diff.ok else "MOVED",
            )
            for diff in self.metrics
        ]
        rows.append(
            (
                "max probability drift",
                "0",
                _number(self.max_probability_drift),
                f"tol {self.tolerances.probability_absolute:g}",
                "ok"
                if self.max_probability_drift <= self.tolerances.probability_absolute
                else "MOVED",
            )
        )
        rows.append(
            (
                "changed predicted labels",
                "0",
                f"{self.label_changes} of {self.rows_compared}",
                f"tol {self.tolerances.label_changes}",
                "ok" if self.label_changes <= self.tolerances.label_changes else "MOVED",
            )
        )
        if self.rows_missing:
            rows.append(("records missing", "0", str(self.rows_missing), "", "MOVED"))
        return rows

    def to_text(self) -> str:
        header = ("metric", "baseline", "current", "delta", "status")
        rows = [header, *self.table_rows()]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
        lines = [self.verdict(), ""]
        for index, row in enumerate(rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        if self.changed_libraries:
            lines += ["", "library versions: " + ", ".join(self.changed_libraries)]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        status = "passed" if self.ok else "failed"
        lines = [
            f"### Golden check {status}",
            "",
            self.verdict(),
            "",
            "| metric | baseline | current | delta | status |",
            "|---|---:|---:|---:|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.table_rows()]
        if self.changed_libraries:
            lines += ["", "Library versions: " + ", ".join(self.changed_libraries)]
        return "\n".join(lines) + "\n"


def _number(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def compare_predictions(
    baseline: pd.DataFrame, current: pd.DataFrame
) -> tuple[float, int, int, int]:
    """(largest probability difference, changed labels, rows compared, rows missing)."""
    merged = baseline.merge(current, on=ID_COLUMN, how="outer", suffixes=("_base", "_now"))
    probability_columns = [c for c in baseline.columns if c.startswith("probability_")]
    complete = merged.dropna()
    drift = 0.0
    for column in probability_columns:
        if f"{column}_now" not in complete:
            return float("inf"), len(complete), len(complete), len(merged) - len(complete)
        difference = np.abs(complete[f"{column}_base"] - complete[f"{column}_now"])
        drift = max(drift, float(difference.max()) if len(difference) else 0.0)
    label_changes = int((complete["predicted_base"] != complete["predicted_now"]).sum())
    return drift, label_changes, len(complete), len(merged) - len(complete)


def compare(
    baseline: Baseline,
    metrics: dict[str, float],
    predictions: pd.DataFrame,
    current_fingerprint: dict,
    tolerances: Tolerances,
) -> Comparison:
    drift, label_changes, compared, missing = compare_predictions(baseline.predictions, predictions)
    changed_inputs, changed_libraries = fingerprint_changes(
        baseline.fingerprint, current_fingerprint
    )
    return Comparison(
        metrics=[
            MetricDiff(
                name, baseline.metrics.get(name), metrics.get(name), tolerances.metric_absolute
            )
            for name in sorted(set(baseline.metrics) | set(metrics))
        ],
        max_probability_drift=drift,
        label_changes=label_changes,
        rows_compared=compared,
        rows_missing=missing,
        tolerances=tolerances,
        changed_inputs=changed_inputs,
        changed_libraries=changed_libraries,
    )


def check(settings: Settings) -> Comparison:
    """Retrain on the golden data and compare with the stored baseline."""
    frame = load_training_data(settings.golden_path)
    result = run(frame, settings)
    return compare(
        Baseline.read(settings.baseline_dir),
        result.metrics,
        result.predictions,
        fingerprint(settings),
        Tolerances.load(settings.golden_tolerances),
    )


def check_artefact(settings: Settings) -> Comparison:
    """Load the stored model artefact fresh and compare its predictions with the baseline."""
    baseline = Baseline.read(settings.baseline_dir)
    frame = load_training_data(settings.golden_path)
    model = load_model(settings.baseline_dir / MODEL_FILE)
    predictions = predict(model, frame.sort_values(ID_COLUMN).reset_index(drop=True))
    return compare(
        baseline,
        baseline.metrics,
        predictions,
        baseline.fingerprint,
        Tolerances.load(settings.golden_tolerances),
    )


def guarded_paths(settings: Settings) -> list[Path]:
    """Model code, parameters and golden data: uncommitted edits to them block an update."""
    return [PACKAGE_DIR / name for name in MODEL_CODE] + [
        settings.golden_dir,
        settings.params_file,
    ]


def uncommitted_changes(paths: list[Path], root: Path) -> list[str] | None:
    """Uncommitted changes under the given paths, or None when root is not a git work tree."""
    try:
        completed = subprocess.run(
            ["git", "status", "--porcelain", "--", *map(str, paths)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    changes = [line[3:] for line in completed.stdout.splitlines()]
    return changes + unrecorded_dvc_files(paths)


def unrecorded_dvc_files(paths: list[Path]) -> list[str]:
    """Data files that DVC tracks (so git ignores them) whose bytes differ from the md5
    their committed `.dvc` pointer records: edited, but not recorded with `dvc add`."""
    changed = []
    for pointer in (p for path in paths if path.is_dir() for p in sorted(path.glob("*.dvc"))):
        data = pointer.with_suffix("")
        outs = yaml.safe_load(pointer.read_text()).get("outs", [])
        if data.is_file() and outs and md5_of(data) != outs[0].get("md5"):
            changed.append(f"{data.name} (not recorded: run `make golden-push`)")
    return changed


def md5_of(path: Path) -> str:
    """The md5 DVC records for a file (an identifier there, not a security measure)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


@dataclass
class Update:
    """A recomputed baseline, ready to be written after the diff is confirmed."""

    manifest: dict
    baseline: Baseline
    result: RunResult
    comparison: Comparison | None


def prepare_update(settings: Settings) -> Update:
    manifest = {"files": {settings.golden_path.name: describe_manifest_entry(settings.golden_path)}}
    frame = load_training_data(settings.golden_path, verify=False)
    result = run(frame, settings)
    current = Baseline(result.metrics, result.predictions, fingerprint(settings))
    try:
        previous = Baseline.read(settings.baseline_dir)
    except FileNotFoundError:
        comparison = None
    else:
        comparison = compare(
            previous,
            current.metrics,
            current.predictions,
            current.fingerprint,
            Tolerances.load(settings.golden_tolerances),
        )
    return Update(manifest, current, result, comparison)


def write_update(settings: Settings, update: Update) -> None:
    manifest_path = settings.golden_dir / MANIFEST_NAME
    manifest_path.write_text(json.dumps(update.manifest, indent=2) + "\n")
    update.baseline.write(settings.baseline_dir, update.result)
