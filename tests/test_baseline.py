"""The golden baselines shipped in template/ must belong to the template's current code,
data and parameters; otherwise every freshly generated project fails its golden tests.
Each variant's baseline is checked in a project rendered with that variant's answers.
Refresh them with `python3 -m uv run scripts/refresh_baselines.py`."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import generate

STALE = "the shipped golden baseline is stale: run scripts/refresh_baselines.py"
# Answers that select each shipped baseline (one per model framework).
VARIANTS = {
    "sklearn": {"compute": "cpu", "framework": "sklearn"},
    "pytorch": {"compute": "cpu", "framework": "pytorch"},
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module", params=list(VARIANTS))
def project(request, tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp(request.param), **VARIANTS[request.param])


def fingerprint_of(project: Path) -> dict:
    return json.loads((project / "tests" / "golden" / "baseline" / "fingerprint.json").read_text())


def test_baseline_fingerprint_matches_template_code(project):
    package = project / "src" / "wine_quality"
    for name, digest in fingerprint_of(project)["code"].items():
        source = package / name
        assert source.is_file(), f"{name} is fingerprinted but not generated ({STALE})"
        assert sha256(source.read_bytes()) == digest, f"{name} changed: {STALE}"


def test_baseline_fingerprint_matches_default_params(project):
    params = yaml.safe_load((project / "params.yml").read_text())
    canonical = json.dumps(params, sort_keys=True).encode()
    assert sha256(canonical) == fingerprint_of(project)["params"], f"params.yml changed: {STALE}"


def test_manifest_and_baseline_match_the_golden_data(project):
    data = project / "data" / "golden" / "wine.csv"
    manifest = json.loads((project / "data" / "golden" / "manifest.json").read_text())
    digest = sha256(data.read_bytes())
    assert manifest["files"]["wine.csv"]["sha256"] == digest, STALE
    assert fingerprint_of(project)["data"]["wine.csv"] == digest, STALE
