"""Terraform for aws and azure: it parses, declares what the target needs, is laid out as
`terraform fmt` writes it, mirrors the thresholds in its alarms, follows the compute
answer, passes checkov, and CI lints and deploys it with OIDC."""

import itertools
import json
import re
import subprocess
from pathlib import Path

import hcl2
import yaml

from tests.deploy.projects import BIN, GPU, answers_of
from tests.helpers import choices
from tests.terraform_layout import layout_errors

CLOUDS = ["aws", "azure"]
# What each cloud configuration must declare; GPU capacity and the CI identity only where
# the answers call for them.
REQUIRED_RESOURCES = {
    "aws": {
        "aws_ecr_repository", "aws_ecs_cluster", "aws_ecs_task_definition", "aws_ecs_service",
        "aws_lb", "aws_lb_target_group", "aws_lb_listener", "aws_s3_bucket",
        "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block", "aws_kms_key", "aws_cloudwatch_metric_alarm",
        "aws_sns_topic", "aws_cloudwatch_log_group",
    },
    "azure": {
        "azurerm_resource_group", "azurerm_container_registry", "azurerm_container_app",
        "azurerm_container_app_environment", "azurerm_storage_account",
        "azurerm_storage_container", "azurerm_log_analytics_workspace",
        "azurerm_monitor_scheduled_query_rules_alert_v2", "azurerm_monitor_action_group",
    },
}  # fmt: skip
GPU_RESOURCES = {
    "aws": {"aws_launch_template", "aws_autoscaling_group", "aws_ecs_capacity_provider"},
    "azure": set(),
}
CI_RESOURCES = {
    "aws": {"aws_iam_role", "aws_iam_openid_connect_provider"},
    "azure": {"azurerm_user_assigned_identity", "azurerm_federated_identity_credential"},
}
REQUIRED_VARIABLES = {"name", "environment", "image_digest"}
# The thresholds the cloud alarms mirror; min_confidence, max_low_confidence_share and
# max_drift_psi describe the service's own Prometheus metrics and have no cloud metric.
MIRRORED = {
    "rate_window_minutes", "for_minutes", "max_error_rate", "max_p95_latency_seconds",
    "max_rejected_share", "max_minutes_without_predictions", "service_down_minutes",
}  # fmt: skip


def cloud_project(project: Path) -> tuple[str, Path] | None:
    target = answers_of(project)["deploy_target"]
    return (target, project / "deploy" / target) if target in CLOUDS else None


def parsed_terraform(directory: Path) -> dict[str, list]:
    """Every block of every .tf file, parsed by checkov's HCL parser (bc-python-hcl2, the
    python-hcl2 fork; the two cannot be installed together, both being `hcl2`)."""
    blocks: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            for kind, entries in hcl2.load(handle).items():
                blocks.setdefault(kind, []).extend(entries)
    return blocks


def test_terraform_parses_and_declares_what_the_target_needs(project):
    cloud = cloud_project(project)
    if cloud is None:
        assert not list(project.rglob("*.tf"))
        return
    target, directory = cloud
    answers = answers_of(project)
    blocks = parsed_terraform(directory)
    resources = {kind for block in blocks["resource"] for kind in block}
    required = set(REQUIRED_RESOURCES[target])
    if answers["compute"] in GPU:
        required |= GPU_RESOURCES[target]
    if answers["ci_provider"] != "none":
        required |= CI_RESOURCES[target]
    assert required <= resources, f"missing: {sorted(required - resources)}"
    if answers["compute"] not in GPU:
        assert not GPU_RESOURCES[target] & resources
    variables = {name for block in blocks["variable"] for name in block}
    assert variables >= REQUIRED_VARIABLES
    assert {"url"} <= {name for block in blocks["output"] for name in block}
    (terraform,) = blocks["terraform"]
    (backend,) = terraform["backend"]
    if target == "aws":
        assert backend["s3"]["use_lockfile"] == [True]
        assert backend["s3"]["encrypt"] == [True]
    else:
        assert backend["azurerm"]["use_azuread_auth"] == [True]


def test_the_service_runs_the_image_by_digest(project):
    """Terraform takes the digest `make deploy` pushed or copied, checked to be one, and
    the service names its image by that digest, never by a tag."""
    cloud = cloud_project(project)
    if cloud is None:
        return
    target, directory = cloud
    variables = {
        name: spec
        for block in parsed_terraform(directory)["variable"]
        for name, spec in block.items()
    }
    (validation,) = variables["image_digest"]["validation"]
    (condition,) = validation["condition"]
    assert "^sha256:[0-9a-f]{64}$" in condition
    service = (directory / ("service.tf" if target == "aws" else "main.tf")).read_text()
    images = re.findall(r"^\s*image\s*=\s*(.+)$", service, re.MULTILINE)
    assert images, "the service names no image"
    assert all(image.endswith('@${var.image_digest}"') for image in images), images


def test_terraform_is_laid_out_as_terraform_fmt_writes_it(project):
    cloud = cloud_project(project)
    if cloud is None:
        return
    for path in sorted(cloud[1].glob("*.tf")):
        assert layout_errors(path.read_text()) == [], path.name


def test_cloud_alarms_mirror_the_thresholds_file(project):
    """The alarms read monitoring/thresholds.yml itself, so editing a threshold and
    deploying moves the cloud alarm as it moves the Prometheus rule."""
    cloud = cloud_project(project)
    if cloud is None:
        return
    target, directory = cloud
    alarms = (directory / ("alarms.tf" if target == "aws" else "alerts.tf")).read_text()
    assert 'yamldecode(file("${path.module}/../../monitoring/thresholds.yml"))' in alarms
    thresholds = yaml.safe_load((project / "monitoring/thresholds.yml").read_text())
    used = set(re.findall(r"local\.thresholds\.(\w+)", alarms))
    assert used <= set(thresholds), f"unknown thresholds: {used - set(thresholds)}"
    assert used == MIRRORED
    for reason in ("Low-confidence predictions", "feature drift"):
        assert reason in alarms, "the alarms file says which thresholds it cannot mirror"


def test_cloud_gpu_capacity_follows_the_compute_answer(project):
    cloud = cloud_project(project)
    if cloud is None:
        return
    target, directory = cloud
    gpu = answers_of(project)["compute"] in GPU
    text = "\n".join(path.read_text() for path in sorted(directory.glob("*.tf")))
    if target == "aws":
        assert ('type = "GPU"' in text) == gpu
        assert ("/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/" in text) == gpu
        assert ('requires_compatibilities = ["EC2"]' in text) == gpu
    else:
        assert ('"Consumption-GPU-NC8as-T4"' in text) == gpu
        assert ('workload_profile_name        = "gpu"' in text) == gpu


def test_checkov_finds_no_failed_check(render, tmp_path):
    """checkov on the Terraform of every cloud target x compute answer, in one run (its
    start-up dominates: ~8 s of ~10 s a run). GitHub's files include the CI identity."""
    directories = [
        render(target, "github", compute) / "deploy" / target
        for target, compute in itertools.product(CLOUDS, choices("compute"))
    ]
    report = tmp_path / "checkov"
    arguments = [arg for directory in directories for arg in ("--directory", str(directory))]
    completed = subprocess.run(
        [
            str(BIN / "checkov"), *arguments, "--framework", "terraform", "--skip-download",
            "--quiet", "--compact", "--output", "json", "--output-file-path", str(report),
        ],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    results = json.loads((report / "results_json.json").read_text())
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_abs_path']})"
        for check in results["results"]["failed_checks"]
    ]
    assert not failed
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert results["summary"]["parsing_errors"] == 0
    assert results["summary"]["passed"] > 0, "checkov checked nothing"
    for directory in directories:
        skips = [
            (path.name, skip)
            for path in directory.glob("*.tf")
            for skip in re.findall(r"#checkov:skip=.*", path.read_text())
        ]
        assert skips, f"{directory}: no skip at all is suspicious; did the comments go?"
        for name, skip in skips:
            assert re.fullmatch(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{15,}", skip), (
                f"{name}: a skip needs a reason: {skip}"
            )


def test_cloud_ci_lints_and_deploys_with_oidc(project):
    cloud = cloud_project(project)
    answers = answers_of(project)
    workflow = project / ".github/workflows/ci.yml"
    if workflow.exists():
        jobs = yaml.safe_load(workflow.read_text())["jobs"]
        assert ("deploy-lint" in jobs) == (cloud is not None)
        updates = yaml.safe_load((project / ".github/dependabot.yml").read_text())["updates"]
        terraform = [u["directory"] for u in updates if u["package-ecosystem"] == "terraform"]
        assert terraform == ([f"/deploy/{cloud[0]}"] if cloud else [])
    gitlab = project / ".gitlab-ci.yml"
    if gitlab.exists():
        pipeline = yaml.safe_load(gitlab.read_text())
        assert ("deploy-lint" in pipeline) == (cloud is not None)
    if cloud is None:
        return
    target = cloud[0]
    makefile = (project / "Makefile").read_text()
    lint = makefile.split("\ndeploy-lint:", 1)[1]
    for command in ("fmt -check", "validate", "checkov"):
        assert command in lint
    if answers["ci_provider"] == "github":
        jobs = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())["jobs"]
        for job in (jobs["staging"], jobs["production"]):
            assert job["permissions"]["id-token"] == "write"
            uses = [step.get("uses", "") for step in job["steps"]]
            login = "aws-actions/configure-aws-credentials@" if target == "aws" else "azure/login@"
            assert any(use.startswith(login) for use in uses)
            assert any(use.startswith("hashicorp/setup-terraform@") for use in uses)
            step = next(s for s in job["steps"] if "make deploy" in s.get("run", ""))
            assert step["env"]["TF_VAR_github_repository"] == "${{ github.repository }}"
    if answers["ci_provider"] == "gitlab":
        pipeline = yaml.safe_load(gitlab.read_text())
        for environment in ("staging", "production"):
            job = pipeline[f"deploy-{environment}"]
            assert job["id_tokens"], "CD signs in with the job's ID token"
            assert job["variables"]["TF_VAR_gitlab_project_path"] == "$CI_PROJECT_PATH"
