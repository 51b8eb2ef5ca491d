"""The golden baselines shipped in template/ must belong to the template's current code,
data and parameters; otherwise every freshly generated project fails its golden tests.
Refresh them with `python3 -m uv run scripts/refresh_baselines.py`."""

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts.refresh_baselines import VARIANTS, baseline_dir, variant_id
from tests.helpers import TEMPLATE, generate
from tests.test_fingerprint import code

STALE = "the shipped golden baseline is stale: run scripts/refresh_baselines.py"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module", params=VARIANTS, ids=variant_id)
def variant(request, tmp_path_factory) -> tuple[dict, Path]:
    fingerprint_path = baseline_dir(request.param) / "fingerprint.json"
    assert fingerprint_path.is_file(), f"no baseline for {variant_id(request.param)}: {STALE}"
    project = generate(tmp_path_factory.mktemp("baseline"), **request.param)
    return json.loads(fingerprint_path.read_text()), project


def test_baseline_fingerprint_matches_template_code(variant):
    fingerprint, project = variant
    assert fingerprint["code_hashing"] == code.HASHING, STALE
    current = code.code_digests(project / "src" / "wine_quality")
    changed = sorted(name for name in current.keys() | fingerprint["code"].keys()
                     if current.get(name) != fingerprint["code"].get(name))  # fmt: skip
    assert changed == [], f"{', '.join(changed)} changed: {STALE}"


def test_baseline_fingerprint_lists_the_declared_libraries(variant):
    fingerprint, project = variant
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(fingerprint["libraries"]) == 1 + len(declared), STALE
    assert {"python", "pandas", "scikit-learn"} <= set(fingerprint["libraries"]), STALE


def test_baseline_fingerprint_matches_default_params(variant):
    fingerprint, project = variant
    params = yaml.safe_load((project / "params.yml").read_text())
    # Where the Dask steps run is a setting, not a parameter: it changes no result.
    params.pop("dask", None)
    canonical = json.dumps(params, sort_keys=True).encode()
    assert sha256(canonical) == fingerprint["params"], f"params.yml changed: {STALE}"


def test_baseline_is_generated_for_its_variant_only(variant):
    _, project = variant
    baselines = list((project / "tests" / "golden").glob("*/fingerprint.json"))
    assert [path.parent.name for path in baselines] == ["baseline"]


def test_manifest_and_baseline_match_the_golden_data():
    data = TEMPLATE / "data" / "golden" / "wine.csv"
    manifest = json.loads((TEMPLATE / "data" / "golden" / "manifest.json").read_text())
    digest = sha256(data.read_bytes())
    assert manifest["files"]["wine.csv"]["sha256"] == digest, STALE
    for variant in VARIANTS:
        fingerprint = json.loads((baseline_dir(variant) / "fingerprint.json").read_text())
        assert fingerprint["data"]["wine.csv"] == digest, f"{variant_id(variant)}: {STALE}"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_medium_and_large_baselines_agree(task):
    """Fixed-size batches in a fixed order: the data engine does not change the scores."""
    medium, large = (
        baseline_dir({"data_size": size, "framework": "sklearn", "task": task})
        for size in ("medium", "large")
    )
    assert (medium / "metrics.json").read_text() == (large / "metrics.json").read_text()
    assert (medium / "predictions.csv").read_text() == (large / "predictions.csv").read_text()
