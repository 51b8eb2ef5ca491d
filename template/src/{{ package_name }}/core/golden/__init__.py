# Template file (copier-mlops): `copier update` merges new versions into it.
"""Golden data and baselines: same inputs give the same scores, changed inputs change them.

A baseline is what a committed version of the code produced on the golden data:
the reference metrics, the predictions for every golden record, the model artefact
and a fingerprint of everything that produced them. `check` retrains and compares;
`update` records a new baseline on purpose.

code.py hashes the model code and fingerprint.py the rest of what a run depends on;
baseline.py reads and writes the baseline and the tolerances; compare.py compares a run
with the baseline and writes the diff table; guards.py keeps a baseline tied to
committed code. This module runs the check and the update.
"""

import json
from dataclasses import dataclass

from ...schema import CONTRACT
from ..config import Settings
from ..data import MANIFEST_NAME, describe_manifest_entry, load_training_data
from ..pipeline import RunResult, load_model, predict, run
from .baseline import MODEL_FILE as MODEL_FILE
from .baseline import Baseline as Baseline
from .baseline import Tolerances as Tolerances
from .compare import Comparison as Comparison
from .compare import compare as compare
from .compare import compare_predictions as compare_predictions
from .fingerprint import PACKAGE_DIR as PACKAGE_DIR
from .fingerprint import fingerprint as fingerprint
from .guards import guarded_paths as guarded_paths
from .guards import md5_of as md5_of
from .guards import uncommitted_changes as uncommitted_changes
from .guards import unrecorded_dvc_files as unrecorded_dvc_files


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
