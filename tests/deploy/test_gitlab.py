"""GitLab CI: the pipeline validates; CD (both providers) fetches the DVC golden data
before building the image."""

import pytest
import yaml

from tests.deploy.projects import answers_of, check_schema
from tests.helpers import generate


def test_gitlab_pipeline_validates(project):
    answers = answers_of(project)
    path = project / ".gitlab-ci.yml"
    assert path.exists() == (answers["ci_provider"] == "gitlab")
    if not path.exists():
        return
    check_schema("vendor.gitlab-ci", path, cwd=project)
    pipeline = yaml.safe_load(path.read_text())
    # GitLab's schema lets a mapping through where a command belongs (a template line
    # that swallowed its newline); GitLab and gitlab-ci-local refuse the pipeline.
    for name, job in pipeline.items():
        for key in ("before_script", "script", "after_script"):
            for line in job.get(key, []) if isinstance(job, dict) else []:
                assert isinstance(line, str), f"{name}.{key} holds {line!r}, not a command"
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


@pytest.mark.parametrize(
    ("remote", "ci"), [("s3", "github"), ("azure_blob", "github"), ("s3", "gitlab")]
)
def test_cd_fetches_dvc_golden_data_before_building_the_image(tmp_path, remote, ci):
    """The one job that builds the image fetches the golden data first (the image carries
    it); deployments copy that image and fetch nothing."""
    project = generate(
        tmp_path / "p", deploy_target="kubernetes", ci_provider=ci, golden_data_remote=remote
    )
    if ci == "gitlab":
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        fetch = pipeline["golden-data"]
        assert fetch["script"] == ["uvx --from 'dvc[s3]>=3.50' dvc pull data/golden/*.csv.dvc"]
        assert fetch["artifacts"]["paths"] == ["data/golden/"]
        assert "golden-data" in pipeline["build-image"]["needs"]
        return
    jobs = yaml.safe_load((project / ".github/workflows/cd.yml").read_text())["jobs"]
    steps = jobs["image"]["steps"]
    pull = next(i for i, step in enumerate(steps) if "make golden-pull" in step.get("run", ""))
    build = next(
        i for i, step in enumerate(steps) if step.get("uses", "").startswith("docker/build-push")
    )
    assert pull < build, "the image job builds before fetching the golden data"
    assert jobs["image"]["permissions"].get("id-token") == "write"
    for name in ("staging", "production"):
        assert not any("golden-pull" in step.get("run", "") for step in jobs[name]["steps"])
        assert "id-token" not in jobs[name]["permissions"], f"{name} fetches nothing"
