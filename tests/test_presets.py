"""Team presets: `copier copy --data-file` takes an organisation's defaults, monitoring
thresholds included, and the alert rules a project is generated with are exactly what
its own generator writes from those thresholds."""

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from copier import run_copy
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from tests.helpers import (
    DEFAULT_NAME,
    ROOT,
    alert_generator,
    answered_task,
    generate,
    require_tool,
    run,
    script_check,
)

PRESET = ROOT / "presets" / "example.yml"
PACKAGE = "churn_model"


@pytest.fixture(scope="module")
def preset_project(tmp_path_factory) -> Path:
    """A project copied with the example preset, through the copier command line."""
    destination = tmp_path_factory.mktemp("preset") / "churn"
    copier = Path(sys.executable).parent / "copier"
    subprocess.run(
        [str(copier), "copy", "--defaults", "--quiet", "--vcs-ref", "HEAD",
         "--data-file", str(PRESET), "--data", "project_name=Churn model",
         str(ROOT), str(destination)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return destination


def test_copy_with_a_preset_records_its_answers(preset_project):
    answers = yaml.safe_load((preset_project / ".copier-answers.yml").read_text())
    preset = yaml.safe_load(PRESET.read_text())
    for name, value in preset.items():
        if name != "thresholds":
            assert answers[name] == value, name
    assert answers["package_name"] == PACKAGE
    assert "Acme ML Platform" in (preset_project / "LICENSE").read_text()
    assert (preset_project / ".python-version").read_text().strip() == "3.12"
    assert (
        "registry.acme.example/ml-platform/churn-model"
        in (preset_project / "deploy/kubernetes/base/kustomization.yaml").read_text()
    )


@pytest.fixture(scope="module")
def default_project(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("defaults") / "wine")


@pytest.fixture(scope="module")
def regression_project(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("regression") / "wine", task="regression")


def test_preset_thresholds_replace_the_defaults_and_the_rest_stay(preset_project, default_project):
    preset = yaml.safe_load(PRESET.read_text())["thresholds"]
    defaults = yaml.safe_load((default_project / "monitoring/thresholds.yml").read_text())
    written = yaml.safe_load((preset_project / "monitoring/thresholds.yml").read_text())
    assert written == defaults | preset
    assert written != defaults
    # From now on the file is the team's: the answer is not recorded, so no update renders
    # the preset over values the team has tuned since.
    assert "thresholds" not in (preset_project / ".copier-answers.yml").read_text()


@pytest.mark.parametrize("variant", ["preset-kubernetes", "defaults-local", "regression-local"])
def test_generated_alert_rules_are_what_the_project_writes_from_its_thresholds(
    variant, preset_project, default_project, regression_project
):
    """includes/monitoring/alerts.jinja renders, byte for byte, what the project's own
    `make monitoring-rules` (monitoring/alerts.py) writes from monitoring/thresholds.yml."""
    if variant == "preset-kubernetes":
        project, package = preset_project, PACKAGE
    elif variant == "defaults-local":
        project, package = default_project, "wine_quality"
    else:
        project, package = regression_project, "wine_quality"
    alerts, thresholds = alert_generator(project, package)
    limits = thresholds.Thresholds.load(project / "monitoring/thresholds.yml")
    expected = alerts.expected_files(
        limits, project / "monitoring/prometheus", answered_task(project)
    )
    relative = sorted(str(path.relative_to(project)) for path in expected)
    assert relative == sorted(
        ["monitoring/prometheus/alerts.test.yml", "monitoring/prometheus/alerts.yml"]
        + (["deploy/kubernetes/base/prometheusrule-model.yaml"] if variant.endswith("kubernetes")
           else [])
    )  # fmt: skip
    for path, text in expected.items():
        assert path.read_bytes() == text.encode(), f"{path.relative_to(project)} differs"


def test_preset_alert_rules_pass_their_promtool_tests(preset_project):
    promtool = require_tool("promtool")
    rules = preset_project / "monitoring/prometheus"
    run(promtool, "check", "rules", "alerts.yml", cwd=rules)
    assert "SUCCESS" in run(promtool, "test", "rules", "alerts.test.yml", cwd=rules).stdout


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"max_eror_rate": 0.1}, '"max_eror_rate" is not a monitoring threshold: use '),
        (
            {"max_error_rate": 1.5},
            "thresholds.max_error_rate is 1.5: it must be above 0 and below 1",
        ),
        ({"for_minutes": 2.5}, "thresholds.for_minutes must be a whole number, not 2.5"),
        ({"service_down_minutes": True}, "thresholds.service_down_minutes must be a whole number"),
        ({"drift_window_rows": 10}, "thresholds.drift_window_rows is 10: it must be at least 50"),
        (
            {"max_p95_latency_seconds": "fast"},
            "thresholds.max_p95_latency_seconds must be a number",
        ),
        ([0.02], "thresholds must be a mapping of threshold names to numbers"),
    ],
    ids=["unknown", "above-one", "not-whole", "boolean", "below-bound", "text", "not-a-mapping"],
)
def test_invalid_thresholds_are_refused_by_name(thresholds, message, tmp_path):
    with pytest.raises(ValueError, match="Validation error for question 'thresholds'") as error:
        run_copy(str(ROOT), tmp_path / "project", data={"project_name": DEFAULT_NAME,
                 "thresholds": thresholds}, defaults=True, vcs_ref="HEAD", quiet=True)  # fmt: skip
    assert message in str(error.value)
    assert not (tmp_path / "project" / "monitoring").exists()


def test_preset_only_answers_real_questions():
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    for name in yaml.safe_load(PRESET.read_text()):
        assert name in questions, f"{name} in the preset is not a question in copier.yml"


def test_copy_time_thresholds_are_generated_from_the_projects_model():
    """includes/monitoring/thresholds.jinja's defaults and bounds are thresholds.py's."""
    result = script_check("thresholds_include.py")
    assert result.returncode == 0, result.stderr


def test_a_changed_bound_in_the_model_changes_the_copy_time_check(tmp_path):
    from scripts import thresholds_include

    changed = tmp_path / "thresholds.py"
    changed.write_text(
        thresholds_include.MODEL.read_text().replace(
            "max_error_rate: float = Field(0.05, gt=0, lt=1)",
            "max_error_rate: float = Field(0.02, gt=0, lt=0.5)",
        )
    )
    block = thresholds_include.block(thresholds_include.load_model(changed))
    assert '"max_error_rate": 0.02' in block
    assert '"max_error_rate": [false, 0, false, 0.5]' in block
    assert block != thresholds_include.block(thresholds_include.load_model())


def test_copy_time_alert_rules_are_generated_from_the_projects_alerts():
    """includes/monitoring/alerts.jinja holds alerts.py's rules as scripts/alerts_include.py
    writes them: each rule is written once, in the project's Python."""
    result = script_check("alerts_include.py")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def alerts_copy(tmp_path) -> Path:
    """alerts.py in a copy of its package folder, to change."""
    from scripts import alerts_include

    folder = tmp_path / "monitoring"
    shutil.copytree(
        alerts_include.ALERTS.parent, folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    return folder / alerts_include.ALERTS.name


def edited_block(path: Path, old: str, new: str) -> str:
    from scripts import alerts_include

    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return alerts_include.block(alerts_include.load_alerts(path), path.read_text())


def test_a_changed_rule_in_alerts_py_changes_the_copy_time_rules(alerts_copy):
    from scripts import alerts_include

    block = edited_block(
        alerts_copy,
        '"fast": t.max_p95_latency_seconds / 2',
        '"fast": t.max_p95_latency_seconds / 4',
    )
    assert '"fast": t.max_p95_latency_seconds / 4' in block
    block = edited_block(alerts_copy, 'severity="critical",\n        summary="Prometheus',
                         'severity="page",\n        summary="Prometheus')  # fmt: skip
    assert '"severity": "page"' in block
    assert block != alerts_include.block(
        alerts_include.load_alerts(), alerts_include.ALERTS.read_text()
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"slow": t.max_p95_latency_seconds * 2',
            '"slow": max(t.max_p95_latency_seconds, 2)',
            "a named value is a number, a threshold",
        ),
        ("(PSI above %(max_drift_psi)g)", "(PSI above %(max_drift_psi)s)", "use %(name)d"),
        ("(PSI above %(max_drift_psi)g)", "(PSI above %(max_psi)g)", "names max_psi"),
    ],
    ids=["untranslatable-value", "other-conversion", "unknown-name"],
)
def test_what_the_copy_cannot_carry_is_refused(alerts_copy, old, new, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        edited_block(alerts_copy, old, new)


@cache
def copy_time_environment() -> SandboxedEnvironment:
    """Copier's Jinja as it renders the alert files: sandboxed, with its default filters."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(ROOT)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        keep_trailing_newline=True,
    )


@cache
def project_alerts():
    from scripts import alerts_include

    return alerts_include.load_alerts()


def any_thresholds() -> st.SearchStrategy[dict]:
    """Some thresholds within the model's bounds, the others left to their defaults."""
    from scripts import thresholds_include

    drawn = {}
    for name, field in thresholds_include.load_model().model_fields.items():
        whole, low, low_allowed, high = thresholds_include.bounds_of(name, field)
        if whole:
            drawn[name] = st.integers(low, low + 10_000)
        else:
            top = 1e4 if high is None else high
            drawn[name] = st.floats(low, top, exclude_min=not low_allowed, exclude_max=True)
            if high is None:  # a whole number in a preset stays an int at copy time
                drawn[name] |= st.integers(1, 100)
    return st.fixed_dictionaries({}, optional=drawn)


# No shrinking (a failure shows the thresholds as drawn): each example renders three files.
@settings(max_examples=40, deadline=None, database=None, phases=[Phase.explicit, Phase.generate])
@given(thresholds=any_thresholds(), task=st.sampled_from(["classification", "regression"]))
def test_copy_time_rules_are_the_projects_for_any_thresholds(thresholds, task):
    """The include renders, byte for byte, what alerts.py writes, whatever the thresholds."""
    alerts = project_alerts()
    limits = alerts.Thresholds.model_validate(thresholds)
    documents = {
        "monitoring/prometheus/alerts.yml": alerts.rules_document,
        "monitoring/prometheus/alerts.test.yml": alerts.tests_document,
        "deploy/kubernetes/base/prometheusrule-model.yaml": alerts.prometheus_rule_document,
    }
    for path, document in documents.items():
        template = copy_time_environment().get_template(f"template/{path}.jinja")
        rendered = template.render(task=task, thresholds=thresholds)
        assert rendered == alerts.render(document(limits, task)), path
