"""GitHub Actions: the workflows and Dependabot validate (check-jsonschema, zizmor),
least privilege, actions pinned by SHA, and CD's production gate."""

import re

import yaml

from tests.deploy.projects import BIN, answers_of, check_schema
from tests.helpers import run


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
