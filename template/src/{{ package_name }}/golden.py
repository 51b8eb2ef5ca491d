"""Golden data and baselines: same inputs give the same scores, changed inputs change them.

A baseline is what a committed version of the code produced on the golden data:
the reference metrics, the predictions for every golden record, the model artefact
and a fingerprint of everything that produced them. `check` retrains and compares;
`update` records a new baseline on purpose.
"""

import ast
import hashlib
import json
import math
import platform
import re
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import Settings
from .data import (
    MANIFEST_NAME,
    DataError,
    describe_manifest_entry,
    load_training_data,
    project_path,
    sha256_of,
)
from .pipeline import RunResult, load_model, predict, run, save_model
from .schema import CONTRACT

PACKAGE_DIR = Path(__file__).resolve().parent
# The modules whose code decides the scores; a change to any of them changes the fingerprint.
# A PyTorch project's network and estimator count too.
MODEL_CODE = tuple(
    name
    for name in (
        "schema.py",
        "contract.py",
        "features.py",
        "model.py",
        "pipeline.py",
        "network.py",
        "torch_model.py",
    )
    if (PACKAGE_DIR / name).is_file()
)
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# How the "code" section of a fingerprint is hashed (see `source_digest`). A baseline
# without it was recorded by v0.2.0, which hashed the bytes of each file.
CODE_HASHING = "syntax tree without docstrings"
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
FINGERPRINT_FILE = "fingerprint.json"
MODEL_FILE = "model.joblib"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_digest(source: str) -> str:
    """sha256 of a module's syntax tree without its docstrings: an edit to a docstring, a
    comment or the layout leaves it as it is; an edit to what the code does changes it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, DOCUMENTED) and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return _digest(json.dumps(_canonical(tree)).encode())


def _canonical(node: object) -> object:
    """A syntax tree as plain data, without positions, and without the empty fields that
    some Python versions add and others leave out, so every version gives the same."""
    if isinstance(node, ast.AST):
        fields = {
            name: _canonical(value)
            for name, value in ast.iter_fields(node)
            if value is not None and not (isinstance(value, list) and not value)
        }
        return [type(node).__name__, fields]
    if isinstance(node, list):
        return [_canonical(item) for item in node]
    return repr(node)


def fingerprint(settings: Settings, data_path: Path | None = None) -> dict:
    """Hashes of the data, parameters and model code, and the library versions used."""
    data_path = data_path or settings.golden_path
    params = json.dumps(settings.params(), sort_keys=True).encode()
    return {
        "data": {data_path.name: sha256_of(data_path)},
        "params": _digest(params),
        "code": {
            name: source_digest((PACKAGE_DIR / name).read_text(encoding="utf-8"))
            for name in MODEL_CODE
        },
        "code_hashing": CODE_HASHING,
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
    inputs = [f"data: {name}" for name in _changed(baseline.get("data"), current["data"])]
    if baseline.get("code_hashing") == current.get("code_hashing"):
        inputs += [f"code: {name}" for name in _changed(baseline.get("code"), current["code"])]
    else:
        inputs.append(
            "code: the baseline was recorded by an older template, which hashed the bytes of "
            "each file (record a new baseline once; edits to docstrings and comments no "
            "longer count afterwards)"
        )
    if baseline.get("params") != current["params"]:
        inputs.append("params: params.yml or its environment overrides")
    before, after = baseline.get("libraries", {}), current["libraries"]
    libraries = [
        f"{name} {before.get(name, '-')} -> {after.get(name, '-')}"
        for name in _changed(before, after)
    ]
    return inputs, libraries


def _changed(before: dict | None, after: dict) -> list[str]:
    before = before or {}
    return [
        name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
    ]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricTolerances(_Section):
    absolute: float = Field(1e-6, ge=0, description="Largest change of any metric.")


class PredictionTolerances(_Section):
    probability_absolute: float = Field(
        1e-6, ge=0, description="Largest change of any class probability (classification)."
    )
    label_changes: int = Field(
        0, ge=0, description="Golden records that may change their predicted class."
    )
    value_absolute: float = Field(
        1e-6, ge=0, description="Largest change of any predicted value (regression)."
    )


class Tolerances(_Section):
    """tests/golden/tolerances.yml: how far results may move before the check fails.
    Every key has a default, so a file that predates a key keeps working."""

    metrics: MetricTolerances = MetricTolerances()
    predictions: PredictionTolerances = PredictionTolerances()

    @classmethod
    def load(cls, path: Path) -> "Tolerances":
        """The tolerances in `path`; the defaults where the file is gone."""
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError as error:
            raise DataError(f"{project_path(path)} is not valid YAML: {error}") from None
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}"
                for problem in error.errors()
            )
            raise DataError(f"{project_path(path)}: {problems}") from None


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
        # Class labels stay text, even where they look like numbers.
        predictions = pd.read_csv(
            directory / PREDICTIONS_FILE,
            dtype={"predicted": str} if CONTRACT.is_classification else None,
        )
        lacking = sorted({CONTRACT.id_column, "predicted"} - set(predictions.columns))
        if lacking:
            raise DataError(
                f"{project_path(directory / PREDICTIONS_FILE)} has no column "
                f"{', '.join(lacking)}: it belongs to another data contract; record a "
                "baseline for this one with `make golden-update`"
            )
        return cls(
            metrics=json.loads((directory / METRICS_FILE).read_text()),
            predictions=predictions,
            fingerprint=json.loads((directory / FINGERPRINT_FILE).read_text()),
        )

    def write(self, directory: Path, result: RunResult) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / METRICS_FILE).write_text(json.dumps(self.metrics, indent=2) + "\n")
        (directory / FINGERPRINT_FILE).write_text(json.dumps(self.fingerprint, indent=2) + "\n")
        # Full precision (the shortest text that reads back as the same number): the check
        # compares with the numbers the model gave, not with rounded ones.
        self.predictions.to_csv(directory / PREDICTIONS_FILE, index=False)
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


@dataclass(frozen=True)
class PredictionDiff:
    """How far the predictions for the golden records moved from the baseline's: the
    largest change of a class probability (classification) or of the predicted value
    (regression), and how many predicted classes changed (None for regression)."""

    largest_change: float
    label_changes: int | None
    rows_compared: int
    rows_missing: int

    def checks(self, tolerances: PredictionTolerances) -> list[tuple[str, str, float, bool]]:
        """(check, how far the predictions moved, its tolerance, within it)."""
        largest = _number(self.largest_change)
        if self.label_changes is None:
            limit = tolerances.value_absolute
            found = [("max prediction change", largest, limit, self.largest_change <= limit)]
        else:
            limit, labels = tolerances.probability_absolute, tolerances.label_changes
            found = [
                ("max probability change", largest, limit, self.largest_change <= limit),
                (
                    "changed predicted labels",
                    f"{self.label_changes} of {self.rows_compared}",
                    labels,
                    self.label_changes <= labels,
                ),
            ]
        if self.rows_missing:
            found.append(("records missing", str(self.rows_missing), 0, False))
        return found


@dataclass
class Comparison:
    """How a fresh run differs from the baseline, and what that most likely means."""

    metrics: list[MetricDiff]
    predictions: PredictionDiff
    tolerances: Tolerances
    changed_inputs: list[str] = field(default_factory=list)
    changed_libraries: list[str] = field(default_factory=list)

    @property
    def predictions_ok(self) -> bool:
        return all(ok for *_, ok in self.predictions.checks(self.tolerances.predictions))

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
        rows += [
            (name, "0", moved, f"tol {limit:g}", "ok" if ok else "MOVED")
            for name, moved, limit, ok in self.predictions.checks(self.tolerances.predictions)
        ]
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


def compare_predictions(baseline: pd.DataFrame, current: pd.DataFrame) -> PredictionDiff:
    """Match the records by identifier and measure how far their predictions moved."""
    merged = baseline.merge(
        current, on=CONTRACT.id_column, how="outer", suffixes=("_base", "_now"), indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    if CONTRACT.is_classification:
        compared = sorted(
            {name for name in [*baseline, *current] if name.startswith("probability_")}
        )
        changed = both["predicted_base"].astype(str) != both["predicted_now"].astype(str)
        label_changes = int(changed.sum())
    else:
        compared, label_changes = ["predicted"], None
    largest = 0.0
    for column in compared:
        if column not in baseline or column not in current:
            largest = math.inf  # a class only one side knows
            break
        largest = max(largest, _largest_difference(both[f"{column}_base"], both[f"{column}_now"]))
    return PredictionDiff(largest, label_changes, len(both), len(merged) - len(both))


def _largest_difference(before: pd.Series, after: pd.Series) -> float:
    """Largest absolute difference; a value missing (or not a number) on one side only
    counts as infinitely far."""
    before = pd.to_numeric(before, errors="coerce").to_numpy(dtype="float64")
    after = pd.to_numeric(after, errors="coerce").to_numpy(dtype="float64")
    difference = np.where(np.isnan(before) & np.isnan(after), 0.0, np.abs(before - after))
    return float(np.where(np.isnan(difference), math.inf, difference).max(initial=0.0))


def compare(
    baseline: Baseline,
    metrics: dict[str, float],
    predictions: pd.DataFrame,
    current_fingerprint: dict,
    tolerances: Tolerances,
) -> Comparison:
    changed_inputs, changed_libraries = fingerprint_changes(
        baseline.fingerprint, current_fingerprint
    )
    return Comparison(
        metrics=[
            MetricDiff(
                name, baseline.metrics.get(name), metrics.get(name), tolerances.metrics.absolute
            )
            for name in sorted(set(baseline.metrics) | set(metrics))
        ],
        predictions=compare_predictions(baseline.predictions, predictions),
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
    ordered = frame.sort_values(CONTRACT.id_column, kind="stable").reset_index(drop=True)
    predictions = predict(model, ordered)
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
        settings.golden_path.parent,
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
    manifest_path = settings.golden_path.parent / MANIFEST_NAME
    manifest_path.write_text(json.dumps(update.manifest, indent=2) + "\n")
    update.baseline.write(settings.baseline_dir, update.result)
