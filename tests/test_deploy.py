"""Fast tier: Docker, CI/CD and deployment files for every deploy target x CI provider x
compute answer, checked with the tools that run them (hadolint, check-jsonschema, zizmor,
kustomize, kubernetes-validate, promtool, an HCL parser)."""

import contextlib
import fcntl
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
import yaml

from tests.helpers import choices, generate, require_tool, run
from tests.terraform_layout import layout_errors

BIN = Path(sys.executable).parent
COMBOS = list(
    itertools.product(choices("deploy_target"), choices("ci_provider"), choices("compute"))
)
IDS = ["-".join(combo) for combo in COMBOS]
# Targets whose platform runs the image without a models volume: the Dockerfile's last
# stage, `release`, trains the model into the image.
BAKED = {"docker_swarm", "aws", "azure", "huggingface"}
GPU = ("gpu", "multi_gpu")


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on `path` across pytest-xdist workers."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def render(tmp_path_factory, worker_id):
    """Render each combination once for the whole run, shared by the xdist workers (each
    would otherwise render every combination it meets); MLflow on every other one.
    Tests read the rendered projects and write only to copies."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "deploy-renders"
    root.mkdir(exist_ok=True)

    def rendered(target: str, ci: str, compute: str = "cpu") -> Path:
        key = (target, ci, compute)
        destination = root / "-".join(key)
        with locked(root / f"{destination.name}.lock"):
            if not (destination / ".copier-answers.yml").exists():
                generate(
                    destination,
                    deploy_target=target,
                    ci_provider=ci,
                    compute=compute,
                    experiment_tracking=("mlflow", "none")[COMBOS.index(key) % 2],
                )
        return destination

    return rendered


@pytest.fixture(params=COMBOS, ids=IDS)
def project(request, render) -> Path:
    return render(*request.param)


def check_schema(schema: str, *files: Path, cwd: Path) -> None:
    run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files), cwd=cwd)


def answers_of(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# --- Docker -----------------------------------------------------------------------------


def test_dockerfiles_pass_hadolint(project):
    dockerfiles = sorted(project.rglob("Dockerfile*"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        run(str(BIN / "hadolint"), "--failure-threshold", "info", str(dockerfile), cwd=project)


def test_dockerfile_builds_from_the_lock_file_and_runs_as_non_root(project):
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.MULTILINE)
    names = [name for _, name in stages]
    bases = [image for image, _ in stages if image not in names]
    assert all(re.search(r":\d+\.\d+\.\d+", image) for image in bases), bases
    assert "COPY pyproject.toml uv.lock ./" in text
    assert "uv sync --locked --no-dev" in text
    assert "UV_COMPILE_BYTECODE=1" in text
    runtime = text.split("AS runtime", 1)[1]
    assert "uv" not in re.findall(r"^COPY --from=(\S+)", runtime, re.MULTILINE)
    assert re.search(r"^USER 10001", runtime, re.MULTILINE)
    assert "COPY monitoring/thresholds.yml ./monitoring/" in runtime
    assert "HEALTHCHECK" in runtime
    assert "/health" in runtime
    assert "org.opencontainers.image.title" in runtime


def test_release_stage_trains_the_model_into_the_last_stage(project):
    """Targets without a models volume get a last `release` stage that trains the model on
    the golden data; the others end with `runtime`, which the model volume feeds."""
    target = answers_of(project)["deploy_target"]
    text = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)", text, re.MULTILINE)
    if target not in BAKED:
        assert stages[-1][1] == "runtime"
        assert not re.search(r"^RUN .*\btrain\b", text, re.MULTILINE)
        return
    assert stages[-1] == ("runtime", "release"), "release must be the last stage"
    release = text.split("AS release", 1)[1]
    assert re.search(r"^RUN .*wine_quality.*--json-logs.*\btrain\b", release, re.MULTILINE)
    port = "7860" if target == "huggingface" else "8000"
    exposed = re.findall(r"^EXPOSE (\d+)", text, re.MULTILINE)[-1]
    served = re.findall(r'^CMD \[.*"--port", "(\d+)"\]', text, re.MULTILINE)[-1]
    checked = re.findall(r"127\.0\.0\.1:(\d+)/health", text)[-1]
    assert exposed == served == checked == port


def test_dockerignore_keeps_outputs_out_and_golden_data_in(project):
    patterns = (project / ".dockerignore").read_text().split("\n")
    for excluded in (".git", ".venv", "models", "reports", "mlflow.db", ".env"):
        assert excluded in patterns
    assert "tests/*" in patterns
    assert "!tests/golden" in patterns
    # Of data/, only the golden data: the medium engine's parquet cache stays out.
    assert [p for p in patterns if p.startswith(("data", "!data"))] == ["data/*", "!data/golden"]
    assert not [p for p in patterns if p.startswith(("src", "params.yml", "uv.lock"))]


def test_compose_file_is_valid_and_wires_training_to_serving(project):
    stack = project / "deploy/swarm/stack.yaml"
    compose_files = [project / "compose.yaml", *([stack] if stack.exists() else [])]
    check_schema("vendor.compose-spec", *compose_files, cwd=project)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    assert "models:/app/models" in services["train"]["volumes"]
    assert "models:/app/models:ro" in services["api"]["volumes"]
    assert services["api"]["depends_on"]["train"]["condition"] == "service_completed_successfully"
    assert ("mlflow" in services) == (answers_of(project)["experiment_tracking"] == "mlflow")


def test_makefile_has_docker_targets(project):
    make = require_tool("make")
    listing = subprocess.run(
        [make, "help"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    targets = ["docker-build", "up", "down"]
    deploy_target = answers_of(project)["deploy_target"]
    if deploy_target != "local":
        targets += ["deploy", "destroy"]
    if deploy_target == "huggingface":
        targets.append("space")
    for target in targets:
        assert re.search(rf"^\s+{target}\s", listing, re.MULTILINE), f"make {target} missing"
    assert ("deploy" in listing) == (deploy_target != "local")


# --- GitHub Actions -----------------------------------------------------------------------


def test_github_workflows_and_dependabot_validate(project):
    answers = answers_of(project)
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    if answers["ci_provider"] != "github":
        assert not (project / ".github").exists()
        return
    names = {path.name for path in workflows}
    assert ("cd.yml" in names) == (answers["deploy_target"] != "local")
    check_schema("vendor.github-workflows", *workflows, cwd=project)
    check_schema("vendor.dependabot", project / ".github/dependabot.yml", cwd=project)
    run(str(BIN / "zizmor"), "--offline", "--min-severity", "low", ".github", cwd=project)
    for path in workflows:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, f"{path.name}: default permissions must be none"
        assert "concurrency" in workflow
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} has no permissions"
            granted = job["permissions"]
            assert granted.get("id-token") != "write" or answers["deploy_target"] in (
                "aws",
                "azure",
            ), f"{path.name}: job {name} asks for an OIDC token it does not use"
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                assert not uses or re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_cd_gates_production_behind_an_environment(project):
    path = project / ".github/workflows/cd.yml"
    if not path.exists():
        return
    jobs = yaml.safe_load(path.read_text())["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert "refs/heads/main" in jobs["staging"]["if"]
    assert jobs["production"]["environment"] == "production"
    assert "refs/tags/v" in jobs["production"]["if"]


# --- Kubernetes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubernetes_project(render) -> Path:
    return render("kubernetes", "github")


@pytest.mark.parametrize("compute", choices("compute"))
@pytest.mark.parametrize("environment", ["staging", "production"])
def test_kustomize_overlays_are_valid_kubernetes(render, environment, compute, tmp_path):
    kubectl = require_tool("kubectl")
    project = render("kubernetes", "github", compute)
    manifests = run(
        kubectl, "kustomize", f"deploy/kubernetes/overlays/{environment}", cwd=project
    ).stdout
    rendered = tmp_path / "manifests.yaml"
    rendered.write_text(manifests)
    run(str(BIN / "kubernetes-validate"), "--strict", str(rendered), cwd=tmp_path)
    documents = list(yaml.safe_load_all(manifests))
    resources = {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}
    namespace = "wine-quality" + ("-staging" if environment == "staging" else "")
    assert all(doc["metadata"].get("namespace", namespace) == namespace for doc in documents)
    expected = {
        "Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "PersistentVolumeClaim", "CronJob", "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip
    assert {kind for kind, _ in resources} == expected
    pod = resources["Deployment", "api"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"livenessProbe", "readinessProbe", "startupProbe", "resources"} <= set(container)
    hpa = resources["HorizontalPodAutoscaler", "api"]["spec"]
    assert resources["Deployment", "api"]["spec"]["replicas"] == hpa["minReplicas"] >= 2


def test_prometheus_rules_pass_promtool(kubernetes_project, tmp_path):
    promtool = require_tool("promtool")
    for environment in ("staging", "production"):
        rule = yaml.safe_load(
            (kubernetes_project / f"deploy/kubernetes/overlays/{environment}/prometheusrule.yaml")
            .read_text()
        )  # fmt: skip
        rules = tmp_path / f"{environment}.yml"
        rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        run(promtool, "check", "rules", str(rules), cwd=tmp_path)


def test_model_alerts_reach_the_cluster_as_the_generated_rules(kubernetes_project, tmp_path):
    """The base's PrometheusRule carries exactly the groups of monitoring/prometheus/alerts.yml."""
    manifest = yaml.safe_load(
        (kubernetes_project / "deploy/kubernetes/base/prometheusrule-model.yaml").read_text()
    )
    rules = yaml.safe_load((kubernetes_project / "monitoring/prometheus/alerts.yml").read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == rules["groups"]
    promtool = require_tool("promtool")
    groups = tmp_path / "model.yml"
    groups.write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}))
    run(promtool, "check", "rules", str(groups), cwd=tmp_path)


# --- Docker Swarm -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swarm_project(render) -> Path:
    return render("docker_swarm", "github")


@pytest.mark.parametrize("compute", choices("compute"))
def test_swarm_replicas_reserve_a_gpu_for_gpu_answers(render, compute):
    stack_file = render("docker_swarm", "none", compute) / "deploy/swarm/stack.yaml"
    reservations = yaml.safe_load(stack_file.read_text())["services"]["api"]["deploy"]["resources"][
        "reservations"
    ]
    gpus = [
        spec["discrete_resource_spec"]
        for spec in reservations.get("generic_resources", [])
        if spec["discrete_resource_spec"]["kind"] == "NVIDIA-GPU"
    ]
    assert gpus == ([{"kind": "NVIDIA-GPU", "value": 1}] if compute in GPU else [])


def test_swarm_stack_rolls_out_safely(swarm_project):
    stack_file = swarm_project / "deploy/swarm/stack.yaml"
    check_schema("vendor.compose-spec", stack_file, cwd=swarm_project)
    stack = yaml.safe_load(stack_file.read_text())
    api = stack["services"]["api"]
    assert api["image"].startswith("${IMAGE:?")
    deploy = api["deploy"]
    assert deploy["replicas"] >= 2
    assert deploy["update_config"]["failure_action"] == "rollback"
    assert deploy["update_config"]["order"] == "start-first"
    assert "rollback_config" in deploy
    assert {"cpus", "memory"} <= set(deploy["resources"]["limits"])
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["read_only"] is True
    assert [c["target"] for c in api["configs"]] == ["/app/monitoring/thresholds.yml"]
    grafana = stack["services"]["grafana"]
    assert grafana["secrets"] == ["grafana_admin_password"]
    assert stack["secrets"]["grafana_admin_password"]["external"] is True
    for name, config in stack["configs"].items():
        # Configs are immutable in a swarm: a content digest in the name rolls them.
        assert "${CONFIG_VERSION" in config["name"], name
        assert (stack_file.parent / config["file"]).resolve().is_file(), config["file"]
    # Every config file feeds the digest `make deploy` computes.
    makefile = (swarm_project / "Makefile").read_text()
    digested = re.search(r"^SWARM_CONFIGS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    digested_files = set(digested.group(1).replace("\\\n", " ").split())
    sources = {
        str((stack_file.parent / config["file"]).resolve().relative_to(swarm_project))
        for config in stack["configs"].values()
    }
    assert sources == digested_files


def test_swarm_prometheus_config_passes_promtool(swarm_project, tmp_path):
    """The stack's Prometheus scrapes every replica and loads the generated alert rules."""
    promtool = require_tool("promtool")
    config = swarm_project / "deploy/swarm/prometheus.yml"
    (tmp_path / "prometheus.yml").write_text(config.read_text())
    (tmp_path / "alerts.yml").write_text(
        (swarm_project / "monitoring/prometheus/alerts.yml").read_text()
    )
    run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    job = yaml.safe_load(config.read_text())["scrape_configs"][0]
    assert job["job_name"] == "api"
    assert job["dns_sd_configs"][0]["names"] == ["tasks.api"]


def test_swarm_deploy_reaches_the_manager_over_ssh(render):
    """CD hands the SSH key to an agent and points the stack commands at ssh://."""
    github = render("docker_swarm", "github")
    for job in yaml.safe_load((github / ".github/workflows/cd.yml").read_text())["jobs"].values():
        step = next(s for s in job["steps"] if "make deploy" in s.get("run", ""))
        assert "ssh-add" in step["run"]
        assert 'SWARM_HOST="ssh://$SWARM_HOST"' in step["run"]
        assert step["env"]["SWARM_SSH_KEY"] == "${{ secrets.SWARM_SSH_KEY }}"
    gitlab = yaml.safe_load((render("docker_swarm", "gitlab") / ".gitlab-ci.yml").read_text())
    script = gitlab["deploy-production"]["script"]
    assert any("ssh-add" in line for line in script)
    assert 'make deploy SWARM_HOST="ssh://$SWARM_HOST" TAG="$CI_COMMIT_SHA"' in script


# --- Hugging Face ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def space_project(render) -> Path:
    return render("huggingface", "github")


def front_matter(path: Path) -> dict:
    _, header, _ = path.read_text().split("---\n", 2)
    return yaml.safe_load(header)


def test_space_card_declares_a_docker_space_on_the_served_port(space_project):
    card = front_matter(space_project / "deploy/huggingface/README.md")
    assert card["sdk"] == "docker"
    assert card["app_port"] == 7860
    assert f'"--port", "{card["app_port"]}"' in (space_project / "Dockerfile").read_text()
    assert len(card["short_description"]) <= 60
    assert card["license"] == "other"


def test_make_space_assembles_everything_the_dockerfile_copies(space_project, tmp_path):
    """`make space` gathers what the Space's image build reads (Hugging Face builds the
    Dockerfile from the Space's repository, so a missing file fails there, not here)."""
    make = require_tool("make")
    project = shutil.copytree(space_project, tmp_path / "project")
    (project / "uv.lock").write_text("version = 1\n")  # `make setup` writes the real one
    subprocess.run([make, "space"], cwd=project, check=True, capture_output=True)
    space = project / "build/space"
    dockerfile = (space / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE)
    sources = {source for line in copied for source in line.split()}
    assert sources
    for source in sources:
        assert (space / source).exists(), f"the Space lacks {source}"
    assert front_matter(space / "README.md")["sdk"] == "docker"
    assert not list(space.rglob("__pycache__"))


def test_space_deploy_pushes_with_the_token(render):
    makefile = (render("huggingface", "none") / "Makefile").read_text()
    assert "git lfs track '*.joblib'" in makefile
    assert "password=$$HF_TOKEN" in makefile
    assert "https://huggingface.co/spaces/$(SPACE) main" in makefile
    cd = yaml.safe_load((render("huggingface", "github") / ".github/workflows/cd.yml").read_text())
    spaces = {}
    for name, job in cd["jobs"].items():
        step = next(s for s in job["steps"] if "make deploy" in s.get("run", ""))
        assert step["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
        spaces[name] = re.search(r"SPACE=(\S+)", step["run"]).group(1)
    assert spaces == {
        "staging": "ml-team/wine-quality-staging",
        "production": "ml-team/wine-quality",
    }
    gitlab = yaml.safe_load((render("huggingface", "gitlab") / ".gitlab-ci.yml").read_text())
    assert "extends" not in gitlab["deploy-production"]
    assert any("git-lfs" in line for line in gitlab["deploy-production"]["script"])


# --- Terraform: aws and azure ---------------------------------------------------------------

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
REQUIRED_VARIABLES = {"name", "environment", "image_tag"}
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
        cd = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())
        for job in cd["jobs"].values():
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


# --- GitLab -------------------------------------------------------------------------------


def test_gitlab_pipeline_validates(project):
    answers = answers_of(project)
    path = project / ".gitlab-ci.yml"
    assert path.exists() == (answers["ci_provider"] == "gitlab")
    if not path.exists():
        return
    check_schema("vendor.gitlab-ci", path, cwd=project)
    pipeline = yaml.safe_load(path.read_text())
    assert {"lint", "test", "golden", "docker-lint", "build-image", "scan"} <= set(pipeline)
    assert pipeline["golden"]["artifacts"]["when"] == "always"
    assert "container_scanning" in pipeline["scan"]["artifacts"]["reports"]
    deploys = {name for name in pipeline if name.startswith("deploy-") and name != "deploy-lint"}
    if answers["deploy_target"] == "local":
        assert not deploys
    else:
        assert deploys == {"deploy-staging", "deploy-production"}
        assert pipeline["deploy-production"]["rules"][0]["when"] == "manual"
        assert pipeline["deploy-production"]["environment"]["name"] == "production"


@pytest.mark.parametrize("remote", ["s3", "azure_blob"])
def test_cd_fetches_dvc_golden_data_before_building_the_image(tmp_path, remote):
    project = generate(
        tmp_path / "p", deploy_target="kubernetes", ci_provider="github", golden_data_remote=remote
    )
    cd = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())
    for name, job in cd["jobs"].items():
        runs = [step.get("run", "") for step in job["steps"]]
        pull = next(i for i, command in enumerate(runs) if "make golden-pull" in command)
        deploy = next(i for i, command in enumerate(runs) if "make deploy" in command)
        assert pull < deploy, f"{name} deploys before fetching the golden data"
        assert job["permissions"].get("id-token") == "write"
