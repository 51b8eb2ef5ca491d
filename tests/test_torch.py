"""The compute and framework answers: PyTorch on a CPU, one GPU or several (torchrun DDP).

Fast tier: what each answer renders, the refused combination, and the GPU parts of the
image, compose and Kubernetes files checked by the validators a user's CI would run.
Slow tier: a generated PyTorch project per task (a classifier on several GPUs' answers, a
regressor on the CPU's) installs torch (the local CPU wheel, see tests/torch_wheels.py),
lints, passes its own tests (two-process DDP included) and runs its pipeline through
make, as a user would.
"""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests import torch_wheels
from tests.helpers import generate, git_commit_all, require_tool, run, uv_env
from tests.test_render import BIN

GPU_ANSWERS = ("gpu", "multi_gpu")
COMPUTE = {
    "pytorch-on-cpu": {"compute": "cpu", "framework": "pytorch"},
    "pytorch-regression": {"compute": "cpu", "framework": "pytorch", "task": "regression"},
    "gpu": {"compute": "gpu", "deploy_target": "kubernetes"},
    "multi_gpu": {"compute": "multi_gpu", "deploy_target": "kubernetes"},
}


@pytest.fixture(scope="module", params=list(COMPUTE))
def rendered(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, generate(tmp_path_factory.mktemp(request.param), **COMPUTE[request.param])


def kubernetes_documents(project: Path) -> dict[str, dict]:
    """The production overlay as kustomize renders it, by kind."""
    kubectl = require_tool("kubectl")
    manifests = run(kubectl, "kustomize", "deploy/kubernetes/overlays/production", cwd=project)
    output = project / "production.yaml"
    output.write_text(manifests.stdout)
    run(str(BIN / "kubernetes-validate"), "--strict", str(output), cwd=project)
    return {doc["kind"]: doc for doc in yaml.safe_load_all(manifests.stdout) if doc}


@pytest.mark.parametrize(
    ("compute", "framework"), [("cpu", "sklearn"), ("gpu", "pytorch"), ("multi_gpu", "pytorch")]
)
def test_framework_is_derived_from_compute(tmp_path, compute, framework):
    project = generate(tmp_path / "p", compute=compute)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["framework"] == framework


@pytest.mark.parametrize("compute", ["gpu", "multi_gpu"])
def test_scikit_learn_on_gpus_is_refused_with_the_reason(tmp_path, compute):
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=f'(?s)framework.*CPUs only.*"{compute}".*"pytorch"'):
        generate(destination, compute=compute, framework="sklearn")
    assert not destination.exists()


def test_pytorch_files_follow_the_answers(rendered):
    name, project = rendered
    package = project / "src" / "wine_quality"
    estimator = "TorchRegressor" if name == "pytorch-regression" else "TorchClassifier"
    assert f"{estimator}(" in (package / "model.py").read_text()
    assert f"class {estimator}(" in (package / "core/torch_model.py").read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert any(dep.startswith("torch>=") for dep in pyproject["project"]["dependencies"])
    (index,) = pyproject["tool"]["uv"]["index"]
    assert index["explicit"] is True
    assert index["url"].endswith("/cu128" if name in GPU_ANSWERS else "/cpu")
    assert pyproject["tool"]["uv"]["sources"]["torch"] == [
        {"index": index["name"], "marker": "sys_platform == 'linux'"}
    ]
    params = yaml.safe_load((project / "params.yml").read_text())
    assert set(params["model"]) == {"network", "epochs", "learning_rate", "batch_size",
                                    "weight_decay"}  # fmt: skip
    makefile = (project / "Makefile").read_text()
    torchrun = "torchrun --standalone --nproc-per-node $(NPROC) -m $(PACKAGE) train"
    assert (torchrun in makefile) == (name == "multi_gpu")
    assert "golden-check golden-update: export WINE_QUALITY_DEVICE = cpu" in makefile


def test_image_has_no_cuda_base_and_asks_for_gpus_only_when_answered(rendered):
    name, project = rendered
    dockerfile = (project / "Dockerfile").read_text()
    run(str(BIN / "hadolint"), "Dockerfile", cwd=project)
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert not any("cuda" in base for base in bases), bases
    assert ("NVIDIA_VISIBLE_DEVICES=all" in dockerfile) == (name in GPU_ANSWERS)


def test_compose_reserves_gpus_for_training_and_the_service(rendered):
    name, project = rendered
    run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
        "compose.yaml", cwd=project)  # fmt: skip
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    if name not in GPU_ANSWERS:
        assert "deploy" not in services["train"]
        assert "deploy" not in services["api"]
        return
    train = services["train"]["deploy"]["resources"]["reservations"]["devices"]
    api = services["api"]["deploy"]["resources"]["reservations"]["devices"]
    assert train == [{"driver": "nvidia", "count": 1 if name == "gpu" else "all",
                      "capabilities": ["gpu"]}]  # fmt: skip
    assert api == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert ("shm_size" in services["train"]) == (name == "multi_gpu")
    assert (services["train"]["command"][0] == "torchrun") == (name == "multi_gpu")


def test_kubernetes_requests_gpus_and_tolerates_gpu_nodes(rendered):
    name, project = rendered
    if name not in GPU_ANSWERS:
        pytest.skip("rendered for local deployment")
    documents = kubernetes_documents(project)
    gpus = {"gpu": 1, "multi_gpu": 2}[name]
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    train = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    api = documents["Deployment"]["spec"]["template"]["spec"]
    assert train["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert api["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert toleration in train["tolerations"]
    assert toleration in api["tolerations"]
    shm = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}
    assert (shm in train["volumes"]) == (name == "multi_gpu")
    assert (train["containers"][0]["args"][0] == "torchrun") == (name == "multi_gpu")


SLOW_PROJECTS = {
    # Several GPUs' answers: make train goes through torchrun (here two CPU processes).
    "classification": {"compute": "multi_gpu", "experiment_tracking": "none"},
    "regression": {"compute": "cpu", "framework": "pytorch", "task": "regression",
                   "experiment_tracking": "none"},
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("task", list(SLOW_PROJECTS))
def test_pytorch_project_installs_tests_and_trains(tmp_path, task):
    wheel = torch_wheels.require_wheel()
    require_tool("make")
    require_tool("uv")
    project = generate(tmp_path / "torch-project", **SLOW_PROJECTS[task])
    git_commit_all(project, "Generated by copier-mlops")
    env = uv_env() | torch_wheels.uv_config(tmp_path, wheel)
    run("make", "setup", cwd=project, env=env)
    version = run("uv", "run", "python", "-c", "import torch; print(torch.__version__)",
                  cwd=project, env=env).stdout.strip()  # fmt: skip
    assert version == wheel.name.split("-")[1], f"installed torch {version}, not {wheel.name}"
    run("make", "lint", cwd=project, env=env)
    result = run("make", "test", cwd=project, env=env)
    assert "failed" not in result.stdout, result.stdout
    # The PyTorch tests all run (a contract-driven serve test may skip for the example data).
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert not [line for line in skipped if "torch" in line or "distributed" in line], skipped
    run("make", "train", "evaluate", "golden-check", cwd=project, env=env)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    expected = {"regression": {"rmse", "mae", "r2"},
                "classification": {"accuracy", "f1_macro", "log_loss"}}[task]  # fmt: skip
    assert expected <= set(metrics), metrics
    baseline = json.loads((project / "tests/golden/baseline/metrics.json").read_text())
    assert metrics == pytest.approx(baseline, abs=1e-9)
