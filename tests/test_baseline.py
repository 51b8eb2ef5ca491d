"""The golden baseline shipped in template/ must belong to the template's current code,
data and parameters; otherwise every freshly generated project fails its golden tests.
Refresh it with `python3 -m uv run scripts/refresh_baselines.py`."""

import hashlib
import json

import yaml

from tests.helpers import TEMPLATE

PACKAGE = TEMPLATE / "src" / "{{ package_name }}"
BASELINE = TEMPLATE / "tests" / "golden" / "baseline"
STALE = "the shipped golden baseline is stale: run scripts/refresh_baselines.py"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_baseline_fingerprint_matches_template_code():
    fingerprint = json.loads((BASELINE / "fingerprint.json").read_text())
    for name, digest in fingerprint["code"].items():
        source = PACKAGE / name
        assert source.is_file(), f"{name} is fingerprinted but not rendered verbatim ({STALE})"
        assert sha256(source.read_bytes()) == digest, f"{name} changed: {STALE}"


def test_baseline_fingerprint_matches_default_params():
    fingerprint = json.loads((BASELINE / "fingerprint.json").read_text())
    params = yaml.safe_load((TEMPLATE / "params.yml.jinja").read_text())
    canonical = json.dumps(params, sort_keys=True).encode()
    assert sha256(canonical) == fingerprint["params"], f"params.yml changed: {STALE}"


def test_manifest_and_baseline_match_the_golden_data():
    data = TEMPLATE / "data" / "golden" / "wine.csv"
    manifest = json.loads((TEMPLATE / "data" / "golden" / "manifest.json").read_text())
    fingerprint = json.loads((BASELINE / "fingerprint.json").read_text())
    digest = sha256(data.read_bytes())
    assert manifest["files"]["wine.csv"]["sha256"] == digest, STALE
    assert fingerprint["data"]["wine.csv"] == digest, STALE
