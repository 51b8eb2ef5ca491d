"""Kubernetes: the kustomize overlays are valid Kubernetes, and the Prometheus rules pass
promtool and reach the cluster as the generated ones."""

from pathlib import Path

import pytest
import yaml

from tests.deploy.projects import BIN
from tests.helpers import choices, require_tool, run


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
