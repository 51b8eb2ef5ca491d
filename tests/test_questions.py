"""Every question: a help text, a default, and validators that refuse bad answers with a
message saying what is wrong and what would be right, writing nothing."""

import pytest
import yaml

from tests.helpers import DEFAULT_NAME, QUESTIONS, ROOT, generate

ASKED = [name for name, spec in QUESTIONS.items() if spec.get("when") is not False]


@pytest.mark.parametrize("name", ASKED)
def test_every_question_has_help_and_default(name):
    spec = QUESTIONS[name]
    assert len(spec.get("help", "")) > 30, f"{name} needs a help text that explains the choice"
    assert "default" in spec or name == "project_name", f"{name} needs a default"


@pytest.mark.parametrize(
    ("bad", "question", "message"),
    [
        ({"project_name": "   "}, "project_name", "project name is empty"),
        ({"project_name": 'The "best" model'}, "project_name", "double quote"),
        ({"package_name": "class"}, "package_name", 'Python keyword.*try "class_model"'),
        ({"package_name": "pandas"}, "package_name", 'shadow.*try "pandas_project"'),
        ({"package_name": "9lives"}, "package_name", "not a valid package name.*wine_quality"),
        ({"package_name": "Wine-Quality"}, "package_name", "lower-case letters"),
        ({"package_name": ""}, "package_name", "package name is empty"),
        ({"author_name": ""}, "author_name", "author name is empty"),
        ({"author_email": "ml-team"}, "author_email", "name@example.com"),
        ({"project_name": "Wine\nquality"}, "project_name", "line break.*one line"),
        ({"project_name": "Wine\tquality"}, "project_name", "control character"),
        ({"description": "Two\nlines."}, "description", "line\\s+break"),
        ({"author_name": 'The "ML" team'}, "author_name", "double quote"),
        ({"author_email": 'ml"team@example.com'}, "author_email", "not an\\s+e-mail address"),
        ({"package_name": "a" * 51}, "package_name", "51 characters long: keep it to 50"),
        ({"description": "x" * 201}, "description", "under 200 characters"),
        ({"python_version": "3.9"}, "python_version", "not in"),
        (
            {"deploy_target": "aws", "aws_region": "Europe (Ireland)"},
            "aws_region",
            'not an AWS region code: use the form "eu-west-1"',
        ),
        (
            {"deploy_target": "azure", "azure_location": "West Europe"},
            "azure_location",
            'not an Azure location name.*"westeurope"',
        ),
        (
            {"deploy_target": "huggingface", "huggingface_space": "wine-quality"},
            "huggingface_space",
            'not a Space id: give "<owner>/<name>"',
        ),
        (
            {"deploy_target": "huggingface", "huggingface_space": "ml-team/-demo"},
            "huggingface_space",
            "not a valid Space name",
        ),
        (
            {"deploy_target": "huggingface", "huggingface_space": "ml_team/demo"},
            "huggingface_space",
            "not a Hugging Face user or organisation name",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 20 else None,
)
def test_bad_answers_are_refused_and_nothing_is_written(tmp_path, bad, question, message):
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=f"(?s){question}.*{message}"):
        generate(destination, **bad)
    assert not destination.exists()


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Wine quality", "wine_quality"),
        ("Churn-Model v2", "churn_model_v2"),
        ("3D printing defects", "d_printing_defects"),
        ("  Fraud.Detection  ", "fraud_detection"),
        # The longest project name gives a package name of 50 characters at most.
        ("Forecast " + "very " * 13 + "long", "forecast_very_very_very_very_very_very_very_very_v"),
    ],
)
def test_package_name_is_derived_as_a_valid_identifier(tmp_path, project_name, package_name):
    project = generate(tmp_path / "p", project_name=project_name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == package_name
    assert (project / "src" / package_name / "__init__.py").is_file()


@pytest.mark.parametrize(
    "extra",
    [
        {"deploy_target": "kubernetes"},
        {"deploy_target": "huggingface"},
        {"golden_data_remote": "s3"},
        {"golden_data_remote": "azure_blob"},
    ],
    ids=lambda extra: "-".join(extra.values()),
)
def test_the_longest_project_name_derives_valid_names_with_the_defaults(tmp_path, extra):
    """Every name derived from an 80-character project name passes its own validator."""
    project = generate(tmp_path / "p", project_name="A" * 79 + "b", **extra)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert len(recorded["package_name"]) == 50
    for name in ("kubernetes_namespace", "huggingface_space", "golden_data_bucket",
                 "golden_data_storage_account", "golden_data_container"):  # fmt: skip
        if name in recorded:
            assert len(recorded[name]) <= 63, (name, recorded[name])


def test_framework_is_derived_from_compute(tmp_path):
    project = generate(tmp_path / "p")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["framework"] == "sklearn"


def test_message_after_copy_names_the_next_commands():
    message = yaml.safe_load((ROOT / "copier.yml").read_text())["_message_after_copy"]
    assert "make setup" in message
    assert "make all" in message
    assert "Commit uv.lock" in message, "CI's first step fails until the lock is committed"


def test_default_project_name_is_the_documented_example():
    assert QUESTIONS["project_name"]["placeholder"] == DEFAULT_NAME
