"""CD builds one image per commit, scans that digest and deploys exactly it, on both CI
providers; every deployment can run again for the same commit (decision 0015).

The rendered workflows and pipeline are read for every combination. The Makefile's
deployments run for real against fake `docker` and `kubectl` executables that log their
arguments and refuse what the real ones refuse (a second Job of the same name)."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.deploy.projects import answers_of
from tests.helpers import require_tool

IMAGE_TARGETS = {"kubernetes", "docker_swarm", "aws", "azure"}
DIGEST = "sha256:" + "ab12" * 16
BUILT = f"ghcr.io/owner/repo@{DIGEST}"
REGISTRY_IMAGE = "ghcr.io/ml-team/wine-quality"
# What the fake registry answers for an image `docker push` pushed from a laptop.
PUSHED_DIGEST = "sha256:" + "cd34" * 16

# Both fakes keep their state (the registry's tags, the cluster's objects) in FAKE_STATE
# and append each call, one JSON list of arguments a line, to FAKE_STATE/calls.
FAKE_DOCKER = f'''
import os, sys
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
args = sys.argv[1:]
with (state / "calls").open("a") as log:
    log.write(json.dumps(["docker", *args, "IMAGE=" + os.environ.get("IMAGE", "")]) + "\\n")
tags = state / "tags.json"
registry = json.loads(tags.read_text()) if tags.exists() else {{}}
if args[:3] == ["buildx", "imagetools", "create"]:
    assert args[3] == "--prefer-index=false" and args[4] == "--tag", args
    registry[args[5]] = args[6].split("@", 1)[1]
elif args[:3] == ["buildx", "imagetools", "inspect"]:
    if args[3] not in registry:
        sys.exit(f"ERROR: {{args[3]}}: not found")
    print(f"Name:      {{args[3]}}")
    print("MediaType: application/vnd.oci.image.index.v1+json")
    print(f"Digest:    {{registry[args[3]]}}")
elif args[0] == "push":
    registry[args[1]] = "{PUSHED_DIGEST}"
elif args[:2] == ["secret", "inspect"]:
    sys.exit(0 if (state / ("secret-" + args[2])).exists() else 1)
elif args[:2] == ["secret", "create"]:
    (state / ("secret-" + args[2])).write_text(sys.stdin.read())
tags.write_text(json.dumps(registry))
'''
FAKE_KUBECTL = """
import os, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
args = sys.argv[1:]
with (state / "calls").open("a") as log:
    log.write(json.dumps(["kubectl", *args]) + "\\n")
if args[:2] == ["apply", "-k"]:
    # The cluster gets what kustomize renders; an invalid kustomization fails here.
    rendered = subprocess.run([os.environ["REAL_KUBECTL"], "kustomize", args[2]],
                              capture_output=True, text=True, check=True)
    (state / "applied.yaml").write_text(rendered.stdout)
    sys.exit(0)
namespace, verb, kind = args[1], args[2], args[3]
if kind == "job":
    job = state / f"job-{namespace}-{args[-1] if verb == 'create' else args[4]}"
    if verb == "create":
        if job.exists():
            sys.exit(f'error: failed to create job: jobs.batch "{args[-1]}" already exists')
        job.touch()
    elif verb == "delete":
        if not job.exists() and "--ignore-not-found" not in args:
            sys.exit(f'Error from server (NotFound): jobs.batch "{args[4]}" not found')
        job.unlink(missing_ok=True)
"""


def fake_tools(tmp_path: Path) -> dict[str, str]:
    """A directory with fake `docker` and `kubectl` first on PATH, and their state."""
    real_kubectl = require_tool("kubectl")
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in (("docker", FAKE_DOCKER), ("kubectl", FAKE_KUBECTL)):
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\nimport json\n{textwrap.dedent(body)}")
        script.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_STATE": str(state),
        "REAL_KUBECTL": real_kubectl,
    }


def calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_STATE"]) / "calls"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def make(project: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_tool("make"), "--no-print-directory", *arguments],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def deployed(project: Path, env: dict[str, str], *arguments: str) -> None:
    completed = make(project, env, "deploy", *arguments)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def builds(env: dict[str, str]) -> list[list[str]]:
    return [call for call in calls(env) if call[0] == "docker" and call[1] in ("build", "push")]


def applied_images(env: dict[str, str]) -> set[str]:
    documents = yaml.safe_load_all((Path(env["FAKE_STATE"]) / "applied.yaml").read_text())
    return {
        container["image"]
        for doc in documents
        for container in _containers(doc)
        if container["name"] in ("api", "train")
    }


def _containers(document: dict) -> list[dict]:
    spec = document.get("spec", {})
    spec = spec.get("jobTemplate", {}).get("spec", spec)
    return spec.get("template", {}).get("spec", {}).get("containers", [])


@pytest.fixture
def kubernetes_copy(render, tmp_path) -> Path:
    return shutil.copytree(render("kubernetes", "github"), tmp_path / "project")


def test_kubernetes_deploys_the_built_image_by_digest_and_again_on_a_retry(
    kubernetes_copy, tmp_path
):
    env = fake_tools(tmp_path)
    arguments = ("ENV=staging", "TAG=0123abc", f"BUILT_IMAGE={BUILT}")
    deployed(kubernetes_copy, env, *arguments)
    deployed(kubernetes_copy, env, *arguments)  # a re-run of the same job
    assert not builds(env), "a deployment of a built image must not build or push"
    copies = [call for call in calls(env) if call[1:4] == ["buildx", "imagetools", "create"]]
    assert [call[4:7] for call in copies] == [
        ["--prefer-index=false", "--tag", f"{REGISTRY_IMAGE}:0123abc"]
    ] * 2
    assert all(call[7] == BUILT for call in copies)
    assert applied_images(env) == {f"{REGISTRY_IMAGE}@{DIGEST}"}
    rendered = subprocess.run(
        [env["REAL_KUBECTL"], "kustomize", ".deploy"], cwd=kubernetes_copy,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"image: {REGISTRY_IMAGE}@{DIGEST}" in rendered
    jobs = [call[3:] for call in calls(env) if call[0] == "kubectl" and "job" in call[4:5]]
    assert (
        jobs
        == [
            ["delete", "job", "train-0123abc", "--ignore-not-found"],
            ["create", "job", "--from=cronjob/train", "train-0123abc"],
        ]
        * 2
    )
    # The fake refuses a second Job of one name, as a cluster does: the delete is what
    # lets the retry through.
    fake_kubectl = Path(env["PATH"].split(os.pathsep)[0]) / "kubectl"
    refused = subprocess.run(
        [str(fake_kubectl), "-n", "wine-quality-staging", "create", "job", "train-0123abc"],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "already exists" in refused.stderr


def test_kubernetes_deploy_from_a_laptop_builds_pushes_and_deploys_the_pushed_digest(
    kubernetes_copy, tmp_path
):
    env = fake_tools(tmp_path)
    deployed(kubernetes_copy, env, "ENV=production", "TAG=0123abc")
    assert [call[1] for call in builds(env)] == ["build", "push"]
    assert applied_images(env) == {f"{REGISTRY_IMAGE}@{PUSHED_DIGEST}"}


def test_a_built_image_named_by_tag_is_refused(kubernetes_copy, tmp_path):
    env = fake_tools(tmp_path)
    completed = make(
        kubernetes_copy, env, "deploy", "ENV=staging", "BUILT_IMAGE=ghcr.io/owner/repo:latest"
    )
    assert completed.returncode == 2
    assert "BUILT_IMAGE must name an image by digest" in completed.stderr
    assert not calls(env)


def test_swarm_deploys_the_built_image_by_digest_and_again_on_a_retry(render, tmp_path):
    project = shutil.copytree(render("docker_swarm", "github"), tmp_path / "project")
    env = {**fake_tools(tmp_path), "GRAFANA_ADMIN_PASSWORD": "first-deployment"}
    arguments = ("TAG=0123abc", f"BUILT_IMAGE={BUILT}")
    deployed(project, env, *arguments)
    deployed(project, {**env, "GRAFANA_ADMIN_PASSWORD": ""}, *arguments)
    assert not builds(env)
    stacks = [call for call in calls(env) if call[1:3] == ["stack", "deploy"]]
    assert len(stacks) == 2
    assert {call[-1] for call in stacks} == {f"IMAGE={REGISTRY_IMAGE}@{DIGEST}"}
    created = [call for call in calls(env) if call[1:3] == ["secret", "create"]]
    assert len(created) == 1, "the Grafana secret is created by the first deployment only"


def test_cloud_makefiles_copy_a_built_image_and_build_only_without_one(render, tmp_path):
    """What `make deploy` would run (make -n) on aws and azure: a built image is copied
    (ECR) or imported (ACR) by digest and Terraform gets that digest; only a deployment
    without BUILT_IMAGE builds."""
    for target, copy in (
        ("aws", "docker buildx imagetools create --prefer-index=false"),
        ("azure", "az acr import"),
    ):
        project = render(target, "github")
        state = "TF_STATE_BUCKET=state" if target == "aws" else "TF_STATE_ACCOUNT=state"
        arguments = ("-n", "deploy", "ENV=staging", "TAG=0123abc", state)
        with_image = make(project, {}, *arguments, f"BUILT_IMAGE={BUILT}").stdout
        assert copy in with_image
        assert BUILT in with_image
        assert not re.search(r"docker (build|push) |az acr build", with_image)
        assert '-var image_digest="$(cut -d@ -f2 .deploy/image)"' in with_image
        assert f'test "$digest" = "{DIGEST}"' in with_image
        laptop = make(project, {}, *arguments).stdout
        assert re.search(r"docker build |az acr build", laptop)
        assert copy not in laptop


def workflow_jobs(project: Path) -> dict[str, dict]:
    return yaml.safe_load((project / ".github/workflows/cd.yml").read_text())["jobs"]


def step_runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def test_github_cd_builds_once_scans_the_digest_and_deploys_it(project):
    answers = answers_of(project)
    if answers["ci_provider"] != "github" or answers["deploy_target"] == "local":
        return
    target = answers["deploy_target"]
    jobs = workflow_jobs(project)
    ci = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]
    assert ci["image"]["if"] == "github.event_name != 'push'", "pushes to main: CD builds"
    assert all(not step.get("with", {}).get("push") for step in ci["image"]["steps"])
    building = {
        name: [s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
        for name, job in jobs.items()
    }
    building = {name: steps for name, steps in building.items() if steps}
    deploys = {name: jobs[name] for name in ("staging", "production")}
    for name, job in deploys.items():
        assert name not in building, f"{name} builds"
        assert not re.search(r"docker (build|push)|make (image|push)", step_runs(job))
        assert "scan" in job["needs"]
    if target == "huggingface":
        # The Space builds its own image; CD builds the same one and scans it first.
        assert list(building) == ["scan"]
        assert building["scan"][0]["with"]["load"] is True
        for job in deploys.values():
            assert 'COMMIT="$GITHUB_SHA"' in step_runs(job)
        return
    assert list(building) == ["image"], "exactly one job builds"
    (build,) = building["image"]
    assert build["with"]["push"] is True
    assert build["if"] == "steps.existing.outputs.digest == ''", "a tag's commit is not rebuilt"
    assert "cache-from" not in build["with"]
    image = jobs["image"]
    assert image["permissions"]["packages"] == "write"
    assert image["outputs"]["image"] == "${{ steps.image.outputs.ref }}"
    (output,) = [s for s in image["steps"] if s.get("id") == "image"]
    assert output["env"]["DIGEST"] == (
        "${{ steps.existing.outputs.digest || steps.build.outputs.digest }}"
    )
    assert output["run"] == 'echo "ref=$REPOSITORY@$DIGEST" >> "$GITHUB_OUTPUT"'
    (trivy,) = jobs["scan"]["steps"]
    assert jobs["scan"]["needs"] == "image"
    assert trivy["with"]["image-ref"] == "${{ needs.image.outputs.image }}"
    for job in deploys.values():
        assert set(job["needs"]) == {"image", "scan"}
        (step,) = [s for s in job["steps"] if "make deploy" in s.get("run", "")]
        assert step["env"]["BUILT_IMAGE"] == "${{ needs.image.outputs.image }}"
        assert 'BUILT_IMAGE="$BUILT_IMAGE"' in step["run"]
        assert job["permissions"]["packages"] in ("read", "write")


def test_gitlab_builds_once_scans_the_digest_and_deploys_it(project):
    answers = answers_of(project)
    if answers["ci_provider"] != "gitlab":
        return
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    pushing = [
        name for name, job in jobs.items() if "buildx build --push" in "\n".join(job["script"])
    ]
    assert pushing == ["build-image"]
    build = jobs["build-image"]
    assert build["artifacts"]["reports"]["dotenv"] == "image.env"
    script = build["script"][0]
    lookup = script.index('digest="$(docker buildx imagetools inspect "$IMAGE" | awk')
    assert script.index('if [ -n "$CI_COMMIT_TAG" ]; then') < lookup, "only a tag looks up"
    assert 'echo "IMAGE_DIGEST=$digest" | tee image.env' in script
    scanned = [line for line in jobs["scan"]["script"] if line.startswith("trivy image")]
    assert len(scanned) == 2
    assert all(line.endswith('"$CI_REGISTRY_IMAGE@$IMAGE_DIGEST"') for line in scanned)
    deploys = {
        name: job for name, job in jobs.items() if name in ("deploy-staging", "deploy-production")
    }
    assert bool(deploys) == (answers["deploy_target"] != "local")
    for name, job in deploys.items():
        script = "\n".join(job["script"])
        assert not re.search(r"docker (buildx )?build|make (image|push)", script), name
        (deploy,) = [line for line in job["script"] if line.startswith("make deploy")]
        if answers["deploy_target"] == "huggingface":
            assert job["needs"] == ["scan"]
            assert deploy.endswith('COMMIT="$CI_COMMIT_SHA"')
        else:
            assert job["needs"] == ["build-image", "scan"], (
                "the dotenv digest comes from build-image"
            )
            assert deploy.endswith('BUILT_IMAGE="$CI_REGISTRY_IMAGE@$IMAGE_DIGEST"')
