"""Team presets: `copier copy --data-file` takes an organisation's defaults."""

import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import ROOT

PRESET = ROOT / "presets" / "example.yml"


def test_copy_with_a_preset_records_its_answers(tmp_path):
    copier = Path(sys.executable).parent / "copier"
    subprocess.run(
        [str(copier), "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD",
         "--data-file", str(PRESET), "--data", "project_name=Churn model",
         str(ROOT), str(tmp_path / "churn")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    answers = yaml.safe_load((tmp_path / "churn" / ".copier-answers.yml").read_text())
    for name, value in yaml.safe_load(PRESET.read_text()).items():
        assert answers[name] == value
    assert answers["package_name"] == "churn_model"
    assert "Acme ML Platform" in (tmp_path / "churn" / "LICENSE").read_text()
    assert (tmp_path / "churn" / ".python-version").read_text().strip() == "3.12"


def test_preset_only_answers_real_questions():
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    for name in yaml.safe_load(PRESET.read_text()):
        assert name in questions, f"{name} in the preset is not a question in copier.yml"
