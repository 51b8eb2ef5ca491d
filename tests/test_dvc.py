"""golden_data_remote = s3 | azure_blob: the golden CSV versioned with DVC.

Fast tier: every remote renders its DVC files, the pointer names the shipped CSV's real
MD5 and size, the remote is the answered one, the workflow pulls before tests with least
privilege, and bad answers are refused. Slow tier: a generated project pushes to and pulls
from real storage servers on 127.0.0.1, an S3 one (moto) and an Azure Blob one (Azurite,
from npm; .ci/run installs it), and a corrupted object in the remote is caught by the
project's own checksum verification. The CI credentials (OIDC) cannot be exercised here;
the workflow that uses them is validated statically.
"""

import configparser
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.datasets import iris
from tests.helpers import (
    TEMPLATE,
    free_port,
    generate,
    git_commit_all,
    require_tool,
    run,
    stop,
    uv_env,
)

BIN = Path(sys.executable).parent
GOLDEN_CSV = TEMPLATE / "data" / "golden" / "wine.csv"
SHIPPED_SHA256 = hashlib.sha256(GOLDEN_CSV.read_bytes()).hexdigest()
REMOTES = {
    "s3": {"golden_data_remote": "s3", "golden_data_bucket": "team-golden"},
    "s3-endpoint": {
        "golden_data_remote": "s3",
        "golden_data_bucket": "team-golden",
        "golden_data_s3_endpoint": "https://minio.example.com:9000",
    },
    "azure_blob": {
        "golden_data_remote": "azure_blob",
        "golden_data_storage_account": "teamstorage",
        "golden_data_container": "golden-sets",
    },
}
EXPECTED_REMOTE = {
    "s3": {"url": "s3://team-golden/wine_quality"},
    "s3-endpoint": {
        "url": "s3://team-golden/wine_quality",
        "endpointurl": "https://minio.example.com:9000",
    },
    "azure_blob": {"url": "azure://golden-sets/wine_quality", "account_name": "teamstorage"},
}


@pytest.fixture(scope="module", params=list(REMOTES))
def remote(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, generate(tmp_path_factory.mktemp("dvc"), **REMOTES[request.param])


def dvc_config(project: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read_string((project / ".dvc" / "config").read_text())
    return config


def test_dvc_config_points_at_the_answered_remote(remote):
    name, project = remote
    config = dvc_config(project)
    assert config["core"]["remote"] == "golden"
    assert dict(config["'remote \"golden\"'"]) == EXPECTED_REMOTE[name]
    ignored = (project / ".dvc" / ".gitignore").read_text().splitlines()
    assert [line for line in ignored if not line.startswith("#")] == [
        "/config.local", "/tmp", "/cache",
    ]  # fmt: skip


def test_pointer_names_the_shipped_csv_and_git_ignores_it(remote):
    _, project = remote
    csv = project / "data" / "golden" / "wine.csv"
    pointer = yaml.safe_load((project / "data" / "golden" / "wine.csv.dvc").read_text())
    # DVC 3 hashes the raw bytes (no dos2unix normalisation, unlike DVC 2's md5).
    assert pointer == {
        "outs": [
            {
                "md5": hashlib.md5(csv.read_bytes()).hexdigest(),
                "size": csv.stat().st_size,
                "hash": "md5",
                "path": "wine.csv",
            }
        ]
    }
    ignored = (project / "data" / "golden" / ".gitignore").read_text().splitlines()
    # Whatever CSV the team adopts is git-ignored too, with no edit to a template-owned file.
    assert [line for line in ignored if not line.startswith("#")] == ["/*.csv"]
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == SHIPPED_SHA256


def test_only_the_chosen_dvc_extra_is_a_dependency(remote):
    name, project = remote
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    extra = "dvc[azure]" if name == "azure_blob" else "dvc[s3]"
    dev = [dep for dep in pyproject["dependency-groups"]["dev"] if dep.startswith("dvc")]
    assert dev == [f"{extra}>=3.50"]
    assert not any(dep.startswith("dvc") for dep in pyproject["project"]["dependencies"])


def test_makefile_pulls_on_setup_and_pushes_on_request(remote):
    _, project = remote
    makefile = (project / "Makefile").read_text()
    # The golden CSV is found by pattern, so an adopted file needs no Makefile edit.
    assert "GOLDEN = $(wildcard data/golden/*.csv)\n" in makefile
    assert '@test -n "$(GOLDEN)" || $(MAKE) --no-print-directory golden-pull' in makefile
    assert "golden-pull: ## " in makefile
    assert "\t$(RUN) dvc pull $(wildcard data/golden/*.csv.dvc)\n" in makefile
    assert "\t$(RUN) dvc add $(GOLDEN)\n\t$(RUN) dvc push $(addsuffix .dvc,$(GOLDEN))" in makefile


def test_workflow_pulls_before_tests_and_golden_check_with_least_privilege(remote):
    name, project = remote
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    jobs = workflow["jobs"]
    oidc = name != "s3-endpoint"
    for job_name, final in (("test", "make test"), ("golden", "golden check")):
        job = jobs[job_name]
        runs = [step.get("run", "") for step in job["steps"]]
        pull = runs.index("make golden-pull")
        assert pull < next(i for i, command in enumerate(runs) if final in command)
        assert job["environment"] == "golden-data"
        expected = {"contents": "read"} | ({"id-token": "write"} if oidc else {})
        assert job["permissions"] == expected
        uses = " ".join(step.get("uses", "") for step in job["steps"])
        assert ("configure-aws-credentials" in uses) == (name == "s3")
        assert ("azure/login" in uses) == (name == "azure_blob")
        secrets = job["steps"][pull].get("env", {})
        assert bool(secrets) == (name == "s3-endpoint")
    assert jobs["lint"]["permissions"] == {"contents": "read"}
    assert workflow["permissions"] == {}


def test_workflow_passes_schema_and_zizmor_for_every_remote(remote):
    _, project = remote
    workflow = str(project / ".github" / "workflows" / "ci.yml")
    run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", workflow,
        cwd=project)  # fmt: skip
    # The auditor persona also flags secrets used outside a dedicated environment.
    run(str(BIN / "zizmor"), "--offline", "--persona", "auditor", workflow, cwd=project)


def test_readme_explains_remote_first_push_and_ci_credentials(remote):
    name, project = remote
    readme = (project / "README.md").read_text()
    assert EXPECTED_REMOTE[name]["url"] in readme
    assert "make golden-push" in readme
    assert "golden-data" in readme
    expected = {
        "s3": "GOLDEN_DATA_AWS_ROLE_ARN",
        "s3-endpoint": "GOLDEN_DATA_SECRET_ACCESS_KEY",
        "azure_blob": "GOLDEN_DATA_AZURE_CLIENT_ID",
    }[name]
    assert expected in readme


def test_git_remote_generates_no_dvc_files(tmp_path):
    project = generate(tmp_path / "p")
    assert not (project / ".dvc").exists()
    assert not (project / "data" / "golden" / "wine.csv.dvc").exists()
    assert "dvc" not in (project / "Makefile").read_text()
    assert "dvc" not in (project / "pyproject.toml").read_text()
    assert "golden-data" not in (project / ".github/workflows/ci.yml").read_text()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"golden_data_bucket": "s3://team-golden/data"}, 'without the.*prefix.*"team-golden"'),
        ({"golden_data_bucket": "Team_Golden"}, "not a valid S3 bucket name"),
        ({"golden_data_bucket": "ab"}, "3 to\\s+63"),
        ({"golden_data_s3_endpoint": "minio.example.com"}, "not an endpoint URL.*https://"),
    ],
    ids=["s3-prefix", "uppercase", "too-short", "no-scheme"],
)
def test_bad_s3_answers_are_refused(tmp_path, bad, message):
    question = next(iter(bad))
    with pytest.raises(ValueError, match=f"(?s){question}.*{message}"):
        generate(tmp_path / "p", golden_data_remote="s3", **bad)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"golden_data_storage_account": "team-storage"}, "not a valid storage account"),
        ({"golden_data_container": "Golden--Data"}, "not a valid container name"),
    ],
    ids=["account-hyphen", "container-case"],
)
def test_bad_azure_answers_are_refused(tmp_path, bad, message):
    question = next(iter(bad))
    with pytest.raises(ValueError, match=f"(?s){question}.*{message}"):
        generate(tmp_path / "p", golden_data_remote="azure_blob", **bad)
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------------------
# Slow tier: push and pull through real storage servers on 127.0.0.1
# ---------------------------------------------------------------------------
SHIPPED_MD5 = hashlib.md5(GOLDEN_CSV.read_bytes()).hexdigest()
OBJECT_KEY = f"wine_quality/files/md5/{SHIPPED_MD5[:2]}/{SHIPPED_MD5[2:]}"
BUCKET = "golden-test"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Azurite's fixed development account and key, published in its documentation.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONTAINER = "golden-data"
# Blob operations run in the generated project, whose dvc[azure] brings the Azure SDK.
BLOB_SCRIPT = """
import os, sys
from azure.storage.blob import BlobServiceClient
service = BlobServiceClient.from_connection_string(os.environ["AZURITE_CONNECTION_STRING"])
container = service.get_container_client(sys.argv[2])
if sys.argv[1] == "create":
    container.create_container()
elif sys.argv[1] == "read":
    sys.stdout.buffer.write(container.download_blob(sys.argv[3]).readall())
else:
    container.upload_blob(sys.argv[3], open(sys.argv[4], "rb").read(), overwrite=True)
"""


def start_server(command: list[str], port: int, log: Path) -> subprocess.Popen:
    """Start a loopback server and wait until it accepts connections (30 s at most)."""
    handle = log.open("w")
    server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"`{command[0]}` did not listen on 127.0.0.1:{port}: see {log}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    port = free_port()
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    server = start_server(command, port, tmp_path_factory.mktemp("moto") / "moto.log")
    yield f"http://127.0.0.1:{port}"
    stop(server)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    port = free_port()
    command = [
        require_tool("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
    ]  # fmt: skip
    server = start_server(command, port, tmp_path_factory.mktemp("azurite") / "azurite.log")
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    stop(server)


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **{
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    })  # fmt: skip


def set_up_project(project: Path, env: dict[str, str]) -> None:
    """A fresh project sets up without the remote: the CSV it ships is already there."""
    require_tool("make")
    require_tool("uv")
    git_commit_all(project, "Generated by copier-mlops")
    run("make", "setup", cwd=project, env=env)
    git_commit_all(project, "Lock the environment")


def s3_project(tmp_path: Path, endpoint: str, bucket: str):
    """A project set up with the S3 server at `endpoint` as its DVC remote, its environment
    and a client of that server, with `bucket` created."""
    project = generate(
        tmp_path / "wine-quality",
        golden_data_remote="s3",
        golden_data_bucket=bucket,
        golden_data_s3_endpoint=endpoint,
        experiment_tracking="none",
    )
    # Only the test's credentials: no AWS profile of the machine, no DVC analytics.
    isolation = {
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "DVC_NO_ANALYTICS": "1",
    }
    env = uv_env() | S3_CREDENTIALS | isolation
    set_up_project(project, env)
    client = s3_client(endpoint)
    client.create_bucket(Bucket=bucket)
    return project, env, client


def round_trip(project, env, *, read_remote, overwrite_remote, checks) -> None:
    """First push, a clone's pull that `checks` run on, then a damaged remote copy caught."""
    csv = project / "data" / "golden" / "wine.csv"
    # The shipped pointer already names the CSV, so `dvc add` changes nothing in git.
    run("make", "golden-push", cwd=project, env=env)
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    assert read_remote() == csv.read_bytes()

    # A new clone has neither the CSV nor a cache: `make setup` pulls it, and the
    # project's own commands verify it against manifest.json when they load it.
    csv.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    run("make", "setup", cwd=project, env=env)
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == SHIPPED_SHA256
    for command in checks:
        run("uv", "run", *command, cwd=project, env=env)

    # Someone overwrites the object in the remote. DVC does not re-hash what it downloads
    # (the remote's `verify` is off by default), so the pull succeeds; the manifest check
    # stops every command that loads the data, names both checksums and says what to do.
    damaged = csv.read_bytes().replace(b"14.23", b"14.24", 1)
    overwrite_remote(damaged)
    csv.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    run("make", "golden-pull", cwd=project, env=env)
    assert csv.read_bytes() == damaged
    checked = cli(project, env, "train")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert f"golden file {csv} has changed" in checked.stderr
    assert f"expected sha256 {SHIPPED_SHA256}" in checked.stderr
    assert "the copy in the DVC remote is damaged" in checked.stderr


def cli(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["uv", "run", "wine_quality", *args],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_azure_blob_push_pull_and_a_corrupted_remote_copy_is_caught(azurite, tmp_path):
    project = generate(
        tmp_path / "wine-quality",
        golden_data_remote="azure_blob",
        golden_data_storage_account=AZURITE_ACCOUNT,
        golden_data_container=CONTAINER,
        experiment_tracking="none",
    )
    env = uv_env() | {"AZURITE_CONNECTION_STRING": azurite, "DVC_NO_ANALYTICS": "1"}
    set_up_project(project, env)
    # The generated .dvc/config names the account; the emulator's endpoint and key go
    # where a developer's own credentials would, the git-ignored .dvc/config.local.
    run("uv", "run", "dvc", "remote", "modify", "--local", "golden", "connection_string",
        azurite, cwd=project, env=env)  # fmt: skip

    def blob(*args: str) -> bytes:
        command = ["uv", "run", "python", "-c", BLOB_SCRIPT, *args]
        return run(*command, cwd=project, env=env).stdout.encode()

    def overwrite(data: bytes) -> None:
        damaged = tmp_path / "damaged.csv"
        damaged.write_bytes(data)
        blob("write", CONTAINER, OBJECT_KEY, str(damaged))

    blob("create", CONTAINER)
    round_trip(
        project,
        env,
        read_remote=lambda: blob("read", CONTAINER, OBJECT_KEY),
        overwrite_remote=overwrite,
        checks=[("wine_quality", "train")],
    )


@pytest.mark.slow
def test_s3_round_trip_catches_a_corrupted_copy_and_carries_adopted_data(s3_server, tmp_path):
    """One project on the S3 server. The shipped CSV: first push, a clone's pull, a damaged
    remote copy caught. Then `data adopt`: the example's pointer goes, the adopted sample
    is git-ignored, `make golden-push` records and uploads it, and a clone's `make setup`
    pulls it back for the golden check."""
    project, env, client = s3_project(tmp_path, s3_server, BUCKET)
    round_trip(
        project,
        env,
        read_remote=lambda: client.get_object(Bucket=BUCKET, Key=OBJECT_KEY)["Body"].read(),
        overwrite_remote=lambda data: client.put_object(Bucket=BUCKET, Key=OBJECT_KEY, Body=data),
        # golden check retrains and compares with the baseline; the data tests include
        # the generated test of the DVC-specific missing-file message.
        checks=[("wine_quality", "golden", "check"), ("pytest", "-q", "tests/test_data.py")],
    )
    # The team replaces the example data, whose local copy the damaged pull left behind.
    (project / "data/golden/wine.csv").write_bytes(GOLDEN_CSV.read_bytes())

    adopted = run("uv", "run", "wine_quality", "data", "adopt", str(iris(tmp_path)),
                  "--target", "species", cwd=project, env=env)  # fmt: skip
    assert "make golden-push" in adopted.stdout
    golden = project / "data/golden/flowers.csv"
    assert sorted(path.name for path in (project / "data/golden").iterdir()) == [
        ".gitignore",
        "flowers.csv",
        "manifest.json",
    ]
    status = run("git", "status", "--porcelain", "--", "data/golden", cwd=project).stdout
    assert "flowers.csv\n" not in status, "the adopted sample must stay out of git"
    run("make", "golden-push", cwd=project, env=env)
    pointer = yaml.safe_load((project / "data/golden/flowers.csv.dvc").read_text())
    md5 = pointer["outs"][0]["md5"]
    stored = client.get_object(Bucket=BUCKET, Key=f"wine_quality/files/md5/{md5[:2]}/{md5[2:]}")
    assert stored["Body"].read() == golden.read_bytes()
    git_commit_all(project, "Adopt flowers.csv")

    clone = tmp_path / "clone"
    run("git", "clone", "--quiet", str(project), str(clone), cwd=tmp_path)
    assert not (clone / "data/golden/flowers.csv").exists()
    run("make", "setup", cwd=clone, env=env)
    assert (clone / "data/golden/flowers.csv").read_bytes() == golden.read_bytes()
    checked = run("uv", "run", "wine_quality", "golden", "check", cwd=clone, env=env)
    assert "Golden check passed" in checked.stdout
