"""The `conveyor` command line, working directly on the same settings a server would use."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline, source_action


@pytest.fixture
def cli(settings: Settings, rt: Runtime):
    env = settings_environment(settings)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--direct", *args], env=env, catch_exceptions=False)

    return invoke


def test_create_start_and_follow_a_pipeline(cli, repo: GitRepo, tmp_path: Path, run_jobs) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    path = tmp_path / "pipeline.yml"
    path.write_text(as_yaml(pipeline("cli-demo", repo.url)))

    created = cli("pipeline", "create", "-f", str(path))
    assert created.exit_code == 0, created.output
    assert "created pipeline cli-demo (version 1)" in created.output

    started = cli("pipeline", "start", "cli-demo", "--revision", sha, "--output", "json")
    execution_id = json.loads(started.output)["pipelineExecutionId"]
    run_jobs()

    listed = json.loads(cli("executions", "list", "--output", "json").output)
    assert [(e["pipelineExecutionId"], e["status"]) for e in listed] == [(execution_id, "Succeeded")]
    shown = json.loads(cli("executions", "show", execution_id, "--output", "json").output)
    build_id = shown["stages"][1]["actions"][0]["externalExecutionId"]
    assert build_id.startswith("app:")

    logs = cli("builds", "logs", build_id)
    assert logs.exit_code == 0
    assert "Running command echo building" in logs.output
    assert "\nbuilding\n" in logs.output
    table = cli("executions", "show", execution_id)
    assert "Succeeded" in table.output
    assert "Build" in table.output


def test_validate_lists_every_problem_and_exits_1(cli, tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(as_yaml(pipeline("good", "file:///srv/git/app")))
    bad = tmp_path / "bad.yml"
    bad.write_text("pipeline:\n  name: bad\n  stages:\n    - name: Only\n      actions: []\n")

    assert cli("pipeline", "validate", str(good)).exit_code == 0
    result = cli("pipeline", "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3: pipeline.stages" in result.output
    assert f"{bad}:5: pipeline.stages[0].actions" in result.output


def test_errors_are_one_readable_line_and_exit_1(cli) -> None:
    result = cli("executions", "show", "does-not-exist")
    assert result.exit_code == 1
    assert result.output.strip() == "error: no pipeline execution does-not-exist"
    bad_variable = cli("pipeline", "start", "x", "--variable", "novalue")
    assert bad_variable.exit_code == 1
    assert "NAME=VALUE" in bad_variable.output


def test_reports_are_kept_and_shown_with_their_failed_cases(
    cli,
    repo: GitRepo,
    tmp_path: Path,
    run_jobs,
    client,
) -> None:
    junit = (
        '<testsuite name="unit"><testcase classname="api" name="ok"/>'
        '<testcase classname="api" name="broken"><failure message="expected 2, got 3"/></testcase></testsuite>'
    )
    buildspec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        f"      - printf '%s' '{junit}' > junit.xml\nreports:\n  unit:\n    files: [junit.xml]\n"
    )
    repo.commit({"buildspec.yml": buildspec})
    path = tmp_path / "pipeline.yml"
    document = pipeline("reports", repo.url)
    document["pipeline"]["stages"][1]["actions"][0]["outputArtifacts"] = []
    path.write_text(as_yaml(document))
    cli("pipeline", "create", "-f", str(path))
    execution_id = json.loads(cli("pipeline", "start", "reports", "--output", "json").output)["pipelineExecutionId"]
    run_jobs()
    build_id = json.loads(cli("executions", "show", execution_id, "--output", "json").output)["stages"][1]["actions"][
        0
    ]["externalExecutionId"]

    shown = cli("builds", "reports", build_id, "--failed")
    assert "app-unit: SUCCEEDED — 2 tests (FAILED 1, SUCCEEDED 1)" in shown.output
    assert "FAILED api.broken: expected 2, got 3" in shown.output
    [report] = client.get(f"/api/v1/builds/{build_id}/reports").get_json()["reports"]
    failed = client.get(f"/api/v1/reports/{report['id']}?status=failed").get_json()["testCases"]
    assert [c["name"] for c in failed] == ["broken"]


def test_approve_reject_stop_retry_transitions_and_events_from_the_cli(
    cli, repo: GitRepo, tmp_path: Path, run_jobs
) -> None:
    from tests.support.approvals import gated_pipeline

    repo.commit({"README": "one"})
    path = tmp_path / "gated.yml"
    path.write_text(gated_pipeline("ops", repo.url))
    assert cli("pipeline", "create", "-f", str(path)).exit_code == 0
    nothing = cli("pipeline", "approve", "ops", "Gate", "Review")
    assert nothing.exit_code == 1
    assert "no approval of Gate.Review waiting in pipeline ops: give --token" in nothing.output

    first = json.loads(cli("pipeline", "start", "ops", "--output", "json").output)["pipelineExecutionId"]
    run_jobs()
    rejected = cli("pipeline", "reject", "ops", "Gate", "Review", "--summary", "not yet")
    assert rejected.exit_code == 0, rejected.output
    run_jobs()
    assert json.loads(cli("executions", "show", first, "--output", "json").output)["status"] == "Failed"

    assert cli("executions", "retry", first, "Gate").exit_code == 0
    run_jobs()
    disabled = cli("pipeline", "disable-transition", "ops", "Release", "--reason", "freeze")
    assert disabled.exit_code == 0, disabled.output
    approved = cli("pipeline", "approve", "ops", "Gate", "Review", "--summary", "ok now")
    assert "approved Gate.Review of pipeline ops" in approved.output
    run_jobs()
    assert json.loads(cli("executions", "show", first, "--output", "json").output)["waitingForStage"] == "Release"
    assert cli("pipeline", "enable-transition", "ops", "Release").exit_code == 0
    run_jobs()
    stopped = cli("executions", "stop", first, "--abandon", "--reason", "done here")
    assert "abandoning execution" in stopped.output
    shown = json.loads(cli("executions", "show", first, "--output", "json").output)
    assert (shown["status"], shown["statusSummary"]) == ("Stopped", "Stopped and abandoned: done here")

    events = cli("executions", "events", first)
    assert events.exit_code == 0
    assert "Gate.Review" in events.output
    assert "RESUMED" in events.output
    assert "Rejected by" in events.output

    watched = cli("executions", "watch", first)  # ended: every change at once, then the end
    assert watched.exit_code == 1  # stopped is not succeeded
    changes = [line.split()[1:3] for line in watched.output.splitlines() if line[:2].isdigit()]
    assert changes[0] == ["execution", "STARTED"]
    assert changes[-1] == ["execution", "STOPPED"]
    assert len(changes) == len(json.loads(cli("executions", "events", first, "--output", "json").output))


def test_the_deploy_registry_from_the_cli(cli, tmp_path: Path, rt: Runtime) -> None:
    from conveyor.deploy import registry

    assert cli("applications", "create", "shop").output == "created application shop (Server)\n"
    config = tmp_path / "two.json"
    config.write_text(
        json.dumps(
            {
                "deploymentConfigName": "TwoAtATime",
                "computePlatform": "Server",
                "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 2},
            }
        )
    )
    assert (
        "created deployment configuration TwoAtATime (Server)"
        in cli("deployment-configs", "create", "-f", str(config)).output
    )
    registry.register_host(rt, "web-1", {"Role": "web"})
    group = tmp_path / "web.yml"
    group.write_text(
        "deploymentGroupName: web\ndeploymentConfigName: TwoAtATime\n"
        "onPremisesInstanceTagFilters:\n  - {Key: Role, Value: web, Type: KEY_AND_VALUE}\n"
    )
    made = cli("deployment-groups", "create", "shop", "-f", str(group))
    assert made.output == "created deployment group web (TwoAtATime); hosts: web-1\n"
    assert json.loads(cli("deployment-groups", "get", "shop", "web").output)["hosts"] == ["web-1"]
    assert "CodeDeployDefault.OneAtATime" in cli("deployment-configs", "list").output.splitlines()
    assert "Role=web" in cli("hosts", "list").output
    assert json.loads(cli("applications", "list", "--output", "json").output)[0]["applicationName"] == "shop"
    bad = tmp_path / "bad.yml"
    bad.write_text("deploymentGroupName: web2\ncolour: red\n")
    refused = cli("deployment-groups", "create", "shop", "-f", str(bad))
    assert refused.exit_code == 1
    assert "bad.yml:2: colour: unknown key 'colour'" in refused.output


def test_a_server_that_is_not_there_is_named_with_the_reason_in_a_few_words() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    result = CliRunner().invoke(main, ["--server", url, "executions", "list"])

    assert result.exit_code == 1
    reason = "Failed to establish a new connection: [Errno 111] Connection refused"
    assert f"error: cannot reach the Conveyor server at {url}: {reason}\n" in result.output


def test_tables_show_what_users_wrote_and_keep_ids_whole(
    cli, settings: Settings, repo: GitRepo, tmp_path: Path, run_jobs
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC}, message="[skip ci] tidy [/] up [bold]x")
    path = tmp_path / "pipeline.yml"
    path.write_text(as_yaml(pipeline("marks", repo.url)))
    cli("pipeline", "create", "-f", str(path))
    execution_id = json.loads(cli("pipeline", "start", "marks", "--output", "json").output)["pipelineExecutionId"]
    run_jobs()

    shown = cli("executions", "show", execution_id)  # piped: whole lines
    assert shown.exit_code == 0, shown.output
    assert "[skip ci] tidy [/] up [bold]x" in shown.output  # as written: not read as markup, not an error
    build_id = json.loads(cli("executions", "show", execution_id, "-o", "json").output)["stages"][1]["actions"][0][
        "externalExecutionId"
    ]
    assert build_id in shown.output

    narrow = CliRunner().invoke(
        main,
        ["--direct", "builds", "list"],
        env={**settings_environment(settings), "COLUMNS": "50", "FORCE_COLOR": "1"},
        catch_exceptions=False,
    )
    assert narrow.exit_code == 0, narrow.output
    assert build_id in narrow.output  # a terminal 50 columns wide: the other columns give way, the id does not


def test_start_takes_a_revision_for_each_source_action(cli, repo: GitRepo, tmp_path: Path) -> None:
    first = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    second = repo.commit({"more.txt": "more\n"})
    document = pipeline("two-sources", repo.url)
    document["pipeline"]["stages"][0]["actions"].append(source_action(repo.url, name="Tools", output="ToolsOutput"))
    path = tmp_path / "pipeline.yml"
    path.write_text(as_yaml(document))
    cli("pipeline", "create", "-f", str(path))

    started = cli(
        "pipeline",
        "start",
        "two-sources",
        "--revision",
        f"Source={first}",
        "--revision",
        f"Tools={second}",
        "-o",
        "json",
    )
    assert started.exit_code == 0, started.output
    shown = json.loads(
        cli("executions", "show", json.loads(started.output)["pipelineExecutionId"], "-o", "json").output
    )
    assert {r["actionName"]: r["revisionId"] for r in shown["sourceRevisions"]} == {"Source": first, "Tools": second}

    ambiguous = cli("pipeline", "start", "two-sources", "--revision", first)
    assert ambiguous.exit_code != 0
    assert "several source actions: give the revision as ACTION=SHA" in ambiguous.output


def test_what_pipeline_get_prints_can_be_saved_again(cli, repo: GitRepo, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text(as_yaml(pipeline("round-trip", repo.url)))
    cli("pipeline", "create", "-f", str(path))
    assert cli("pipeline", "disable-transition", "round-trip", "Build", "--reason", "freeze").exit_code == 0
    saved = tmp_path / "saved.json"
    saved.write_text(cli("pipeline", "get", "round-trip").output)
    assert "disabledTransitions" in json.loads(saved.read_text())  # shown beside the declaration

    updated = cli("pipeline", "update", "-f", str(saved))

    assert updated.exit_code == 0, updated.output
    assert "updated pipeline round-trip (version 2)" in updated.output
    shown = json.loads(cli("pipeline", "get", "round-trip").output)
    assert shown["disabledTransitions"]["Build"]["reason"] == "freeze"  # changed only by enable-transition


def test_start_with_a_client_request_token_starts_once(cli, repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    path = tmp_path / "pipeline.yml"
    path.write_text(as_yaml(pipeline("once", repo.url)))
    cli("pipeline", "create", "-f", str(path))

    def start(token: str) -> Result:
        return cli("pipeline", "start", "once", "--client-request-token", token, "-o", "json")

    first, again = start("ci-job-41"), start("ci-job-41")

    assert first.exit_code == again.exit_code == 0, first.output
    assert json.loads(first.output) == json.loads(again.output)
    assert len(json.loads(cli("executions", "list", "-o", "json").output)) == 1
    refused = start("not a token")
    assert refused.exit_code != 0
    assert "clientRequestToken must be 1 to 128 letters, digits or '-'" in refused.output
