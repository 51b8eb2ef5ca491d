"""Docker Swarm: GPU reservations, a safe rollout, a Prometheus config promtool accepts and
a deploy over SSH."""

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.projects import GPU, check_schema
from tests.helpers import choices, require_tool, run


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
    jobs = yaml.safe_load((github / ".github/workflows/cd.yml").read_text())["jobs"]
    for job in (jobs["staging"], jobs["production"]):
        step = next(s for s in job["steps"] if "make deploy" in s.get("run", ""))
        assert "ssh-add" in step["run"]
        assert 'SWARM_HOST="ssh://$SWARM_HOST"' in step["run"]
        assert step["env"]["SWARM_SSH_KEY"] == "${{ secrets.SWARM_SSH_KEY }}"
    gitlab = yaml.safe_load((render("docker_swarm", "gitlab") / ".gitlab-ci.yml").read_text())
    script = gitlab["deploy-production"]["script"]
    assert any("ssh-add" in line for line in script)
    assert (
        'make deploy SWARM_HOST="ssh://$SWARM_HOST" TAG="$CI_COMMIT_SHA"'
        ' BUILT_IMAGE="$CI_REGISTRY_IMAGE@$IMAGE_DIGEST"'
    ) in script
