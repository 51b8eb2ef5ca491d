"""GitLab CI: the pipeline validates and CD fetches the DVC golden data before building."""

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
