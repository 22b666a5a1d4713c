"""BuildRunner end to end in a temporary workspace: a local blob store, real zips, real bash, a real log file."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conveyor.archives import write_zip
from conveyor.blobs import BlobStore, LocalBlobStore
from conveyor.build.cache_store import CacheStore
from conveyor.build.log import BuildLog
from conveyor.build.runner import BuildRequest, BuildResult, BuildRunner, InputArtifact
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.git_credentials import GitCredential

P = PhaseType
S = BuildStatus
ALL_PHASES = ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"]
ALL_PHASES += ["FINALIZING"]


@dataclass
class Recorder:
    started: list[PhaseType] = field(default_factory=list)
    ended: list[tuple[PhaseType, BuildStatus, list[dict[str, str]]]] = field(default_factory=list)
    checkpoints: list[PhaseType] = field(default_factory=list)  # the phase running when commands were about to run

    def phase_started(self, phase: PhaseType) -> None:
        self.started.append(phase)

    def phase_ended(self, phase: PhaseType, status: BuildStatus, contexts: list[dict[str, str]]) -> None:
        self.ended.append((phase, status, contexts))

    def checkpoint(self) -> None:
        self.checkpoints.append(self.started[-1])

    @property
    def phases(self) -> list[tuple[str, str]]:
        return [(phase.value, status.value) for phase, status, _ in self.ended]

    def status_of(self, phase: PhaseType) -> BuildStatus:
        return next(status for p, status, _ in self.ended if p is phase)

    def contexts_of(self, phase: PhaseType) -> list[dict[str, str]]:
        return next(contexts for p, _, contexts in self.ended if p is phase)


@dataclass
class Build:
    result: BuildResult
    recorder: Recorder
    log: str
    blobs: BlobStore
    workspace: Path

    @property
    def output(self) -> list[str]:
        """The log without Conveyor's `[Container]` lines: what the commands printed."""
        return [line for line in self.log.splitlines() if not line.startswith("[Container]")]

    def artifact_names(self) -> list[str]:
        assert self.result.artifact is not None
        with zipfile.ZipFile(io.BytesIO(self.blobs.get_bytes(self.result.artifact["key"]))) as archive:
            return sorted(archive.namelist())


def source_zip(tmp_path: Path, files: dict[str, str], name: str = "source.zip") -> Path:
    """A zip of `files` made the way the source action makes one."""
    tree = tmp_path / f"tree-{name}"
    entries = []
    for relative, text in files.items():
        path = tree / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        entries.append((path, relative))
    archive = tmp_path / name
    write_zip(archive, entries)
    return archive


def run_build(
    tmp_path: Path,
    files: dict[str, str],
    *,
    timeout: float = 30,
    environment: dict[str, str] | None = None,
    buildspec: str | None = None,
    archive: Path | None = None,
    extra_inputs: tuple[InputArtifact, ...] = (),
    sandbox: str = "none",
    network: bool = True,
    cache_store: CacheStore | None = None,
    runtimes_dir: Path | None = None,
    blobs: BlobStore | None = None,
    git_credentials: tuple[GitCredential, ...] = (),
) -> Build:
    blobs = blobs or LocalBlobStore(tmp_path / "blobs")
    blobs.put_file("inputs/source.zip", archive or source_zip(tmp_path, files))
    workspace = tmp_path / "workspace"
    request = BuildRequest(
        build_id="demo:0001",
        project_name="demo",
        workspace=workspace,
        inputs=(InputArtifact("SourceArtifact", "inputs/source.zip"), *extra_inputs),
        environment=environment or {},
        timeout_seconds=timeout,
        buildspec=buildspec,
        artifact_key_prefix="builds/demo/0001/",
        sandbox=sandbox,
        network=network,
        runtimes_dir=runtimes_dir,
        git_credentials=git_credentials,
    )
    recorder = Recorder()
    log = BuildLog(tmp_path / "logs" / "build.log")
    try:
        result = BuildRunner(request, blobs, recorder, log, cache_store=cache_store).run()
    finally:
        log.close()
    return Build(result, recorder, (tmp_path / "logs" / "build.log").read_text(), blobs, workspace)


def spec(*phases: str, head: str = "") -> str:
    return "version: 0.2\n" + head + "phases:\n" + "".join(phases)


def phase(name: str, *commands: str, extra: str = "") -> str:
    lines = "".join(f"      - {json.dumps(command)}\n" for command in commands)
    return f"  {name}:\n{extra}    commands:\n{lines}"


GREEN_SPEC = (
    spec(
        phase("install", "echo installing"),
        phase("pre_build", "mkdir -p out/docs"),
        phase("build", "echo built > out/app.txt", "echo guide > out/docs/guide.md", "echo scratch > notes.txt"),
        phase("post_build", "echo done"),
    )
    + "artifacts:\n  files:\n    - 'out/**/*'\n"
)


def test_a_green_build_runs_every_phase_and_stores_the_selected_files(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"buildspec.yml": GREEN_SPEC, "README.md": "readme\n"})

    assert build.result.status is S.SUCCEEDED
    assert build.recorder.phases == [(name, "SUCCEEDED") for name in ALL_PHASES]
    assert build.recorder.started == [phase for phase, _, _ in build.recorder.ended]
    assert build.result.artifact is not None
    assert build.result.artifact["key"] == "builds/demo/0001/artifact.zip"
    assert build.result.artifact["files"] == 2
    assert build.artifact_names() == ["out/app.txt", "out/docs/guide.md"]


def test_a_failing_build_command_fails_the_build_but_post_build_and_finally_run(tmp_path: Path) -> None:
    buildspec = spec(
        phase("build", "echo first", "exit 3", "echo skipped", extra="    finally:\n      - echo in-finally\n"),
        phase("post_build", 'echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"'),
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.FAILED
    assert build.recorder.status_of(P.BUILD) is S.FAILED
    assert build.recorder.contexts_of(P.BUILD) == [
        {
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: exit 3. Reason: exit status 3",
        }
    ]
    assert build.recorder.status_of(P.POST_BUILD) is S.SUCCEEDED
    assert [name for name, _ in build.recorder.phases] == ALL_PHASES
    assert build.output == ["first", "in-finally", "succeeding=0"]


def test_a_green_build_sees_codebuild_build_succeeding_1(tmp_path: Path) -> None:
    buildspec = spec(phase("post_build", 'echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"'))

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.output == ["succeeding=1"]


def test_a_failing_install_skips_straight_to_finalizing(tmp_path: Path) -> None:
    buildspec = (
        spec(
            phase("install", "false"),
            phase("pre_build", "echo pre"),
            phase("build", "echo build"),
            phase("post_build", "echo post"),
        )
        + "artifacts:\n  files: ['**/*']\n"
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.FAILED
    assert build.recorder.phases == [
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
        ("INSTALL", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
    ]
    assert build.output == []
    assert build.result.artifact is None


def test_on_failure_continue_on_pre_build_runs_build_but_the_build_fails(tmp_path: Path) -> None:
    buildspec = spec(
        phase("pre_build", "exit 2", extra="    on-failure: CONTINUE\n"),
        phase("build", 'echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"'),
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.recorder.status_of(P.PRE_BUILD) is S.FAILED
    assert build.recorder.status_of(P.BUILD) is S.SUCCEEDED
    assert build.output == ["succeeding=0"]
    assert build.result.status is S.FAILED


def test_on_failure_abort_on_build_skips_post_build(tmp_path: Path) -> None:
    buildspec = spec(phase("build", "false", extra="    on-failure: ABORT\n"), phase("post_build", "echo post"))

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert [name for name, _ in build.recorder.phases][-2:] == ["BUILD", "FINALIZING"]
    assert build.output == []


def test_an_invalid_buildspec_fails_download_source_with_a_yaml_file_error(tmp_path: Path) -> None:
    buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo Result: done\n"

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.FAILED
    assert build.recorder.phases == [
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
    ]
    [context] = build.recorder.contexts_of(P.DOWNLOAD_SOURCE)
    assert context["statusCode"] == "YAML_FILE_ERROR"
    assert "buildspec.yml:5: phases.build.commands[0]" in context["message"]


def test_a_missing_buildspec_fails_the_build(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"README.md": "no buildspec here\n"})

    assert build.result.status is S.FAILED
    [context] = build.recorder.contexts_of(P.DOWNLOAD_SOURCE)
    assert context["statusCode"] == "YAML_FILE_ERROR"
    assert "no buildspec at buildspec.yml" in context["message"]


def test_a_buildspec_path_outside_the_source_is_refused(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "true"))}, buildspec="../buildspec.yml")

    assert build.result.status is S.FAILED
    assert "outside the source directory" in build.recorder.contexts_of(P.DOWNLOAD_SOURCE)[0]["message"]


def test_a_buildspec_can_be_named_by_path_or_given_inline(tmp_path: Path) -> None:
    files = {"ci/build.yml": spec(phase("build", "echo from-path"))}

    by_path = run_build(tmp_path / "a", files, buildspec="ci/build.yml")
    inline = run_build(tmp_path / "b", files, buildspec=spec(phase("build", "echo inline")))

    assert by_path.output == ["from-path"]
    assert inline.output == ["inline"]


def test_a_build_over_its_timeout_is_timed_out(tmp_path: Path) -> None:
    buildspec = spec(phase("build", "echo started", "sleep 30", "echo never"), phase("post_build", "echo post"))

    build = run_build(tmp_path, {"buildspec.yml": buildspec}, timeout=0.5)

    assert build.result.status is S.TIMED_OUT
    assert build.recorder.phases[-2:] == [("BUILD", "TIMED_OUT"), ("FINALIZING", "SUCCEEDED")]
    [context] = build.recorder.contexts_of(P.BUILD)
    assert context["statusCode"] == "BUILD_TIMED_OUT"
    assert build.output == ["started"]


def test_exported_variables_are_captured_at_the_end(tmp_path: Path) -> None:
    head = "env:\n  exported-variables:\n    - IMAGE_TAG\n    - UNSET_ONE\n"
    buildspec = spec(phase("build", "export IMAGE_TAG=build"), phase("post_build", "IMAGE_TAG=post"), head=head)

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.exported_variables == {"IMAGE_TAG": "post", "UNSET_ONE": ""}


def test_variables_from_a_command_that_exits_the_shell_survive_into_post_build(tmp_path: Path) -> None:
    head = "env:\n  exported-variables: [IMAGE_URI]\n"
    buildspec = spec(
        phase("build", "IMAGE_URI=repo/app:7; cd out; exit 1"),
        phase("post_build", 'echo "$IMAGE_URI in ${PWD##*/}"'),
        head=head,
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec, "out/.keep": ""})

    assert build.output == ["repo/app:7 in out"]
    assert build.result.exported_variables == {"IMAGE_URI": "repo/app:7"}


def test_buildspec_variables_are_literal_and_the_request_environment_overrides_them(tmp_path: Path) -> None:
    head = "env:\n  variables:\n    LITERAL: '$HOME:/x'\n    STAGE: from-buildspec\n"
    buildspec = spec(phase("build", 'echo "$LITERAL"', 'echo "$STAGE"', 'echo "$CODEBUILD_BUILD_ID"'), head=head)

    build = run_build(
        tmp_path, {"buildspec.yml": buildspec}, environment={"STAGE": "from-request", "CODEBUILD_BUILD_ID": "demo:1"}
    )

    assert build.output == ["$HOME:/x", "from-request", "demo:1"]


def test_commands_start_in_the_source_directory(tmp_path: Path) -> None:
    buildspec = spec(phase("build", 'test "$PWD" = "$CODEBUILD_SRC_DIR" && cat data.txt'))

    build = run_build(tmp_path, {"buildspec.yml": buildspec, "data.txt": "from the source\n"})

    assert build.output == ["from the source"]


def test_a_secondary_input_is_extracted_beside_the_source(tmp_path: Path) -> None:
    blobs_dir = tmp_path / "blobs"
    LocalBlobStore(blobs_dir).put_file("inputs/extra.zip", source_zip(tmp_path, {"lib.txt": "lib\n"}, "extra.zip"))
    buildspec = spec(phase("build", 'cat "$CODEBUILD_SRC_DIR_Extra/lib.txt"'))

    build = run_build(
        tmp_path, {"buildspec.yml": buildspec}, extra_inputs=(InputArtifact("Extra", "inputs/extra.zip"),)
    )

    assert build.output == ["lib"]


def test_the_log_holds_container_lines_and_output_in_order(tmp_path: Path) -> None:
    buildspec = spec(phase("build", "echo one", "printf two", "echo three >&2"))

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    lines = [line.split(" ", 3)[-1] if line.startswith("[Container]") else line for line in build.log.splitlines()]
    start = lines.index("Entering phase BUILD")
    assert lines[start : start + 8] == [
        "Entering phase BUILD",
        "Running command echo one",
        "one",
        "Running command printf two",
        "two",
        "Running command echo three >&2",
        "three",
        "Phase complete: BUILD State: SUCCEEDED",
    ]
    assert all(line.startswith("[Container] ") for line in build.log.splitlines() if "Running command" in line)


def test_the_log_names_a_failing_command_and_the_phase_context(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "exit 9"))})

    assert "Command did not exit successfully exit 9 exit status 9" in build.log
    assert "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command" in build.log


def test_a_source_zip_with_an_escaping_entry_is_refused(tmp_path: Path) -> None:
    payload = tmp_path / "payload.txt"
    payload.write_text("outside\n")
    archive = tmp_path / "evil.zip"
    write_zip(archive, [(payload, "../escape"), (payload, "buildspec.yml")])

    build = run_build(tmp_path, {}, archive=archive)

    assert build.result.status is S.FAULT
    assert build.recorder.phases == [
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "FAULT"),
        ("FINALIZING", "SUCCEEDED"),
    ]
    [context] = build.recorder.contexts_of(P.DOWNLOAD_SOURCE)
    assert context["statusCode"] == "CLIENT_ERROR"
    assert "../escape" in context["message"]
    assert not (build.workspace / "escape").exists()
    assert not any(path.name == "escape" for path in tmp_path.rglob("*"))


def test_a_missing_source_blob_faults_the_build(tmp_path: Path) -> None:
    missing = (InputArtifact("Extra", "inputs/nothing.zip"),)

    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "true"))}, extra_inputs=missing)

    assert build.result.status is S.FAULT
    assert build.recorder.contexts_of(P.DOWNLOAD_SOURCE)[0]["statusCode"] == "CLIENT_ERROR"


def test_artifacts_matching_nothing_fail_upload_artifacts(tmp_path: Path) -> None:
    buildspec = spec(phase("build", "true")) + "artifacts:\n  files: [dist/*]\n"

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.FAILED
    assert build.recorder.phases[-2:] == [("UPLOAD_ARTIFACTS", "FAILED"), ("FINALIZING", "SUCCEEDED")]
    assert "no matching artifact paths found for dist/*" in build.recorder.contexts_of(P.UPLOAD_ARTIFACTS)[0]["message"]


def test_an_artifact_that_cannot_be_read_faults_upload_and_still_finalizes(tmp_path: Path) -> None:
    buildspec = spec(phase("build", "mkdir dist", "ln -s missing dist/dangling")) + "artifacts:\n  files: [dist/*]\n"

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.FAULT
    assert build.recorder.phases[-2:] == [("UPLOAD_ARTIFACTS", "FAULT"), ("FINALIZING", "SUCCEEDED")]
    assert "dangling" in build.recorder.contexts_of(P.UPLOAD_ARTIFACTS)[0]["message"]


def test_buildspec_0_1_post_build_sees_the_build_failing(tmp_path: Path) -> None:
    buildspec = "version: 0.1\nphases:\n" + phase("build", "exit 3")
    buildspec += phase("post_build", 'echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"')

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.output == ["succeeding=0"]


def test_buildspec_0_1_runs_every_command_in_a_fresh_shell(tmp_path: Path) -> None:
    buildspec = "version: 0.1\nphases:\n" + phase("build", "LOST=1; cd /", 'echo "${LOST-unset} ${PWD##*/}"')

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.output == ["unset src"]


@pytest.mark.parametrize("shell", ["bash", "/bin/sh"])
def test_both_linux_shells_run_the_commands(tmp_path: Path, shell: str) -> None:
    buildspec = spec(phase("build", "X=ok", 'echo "$X"'), head=f"env:\n  shell: {shell}\n")

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.output == ["ok"]


def test_a_timed_out_build_exports_nothing_rather_than_stale_values(tmp_path: Path) -> None:
    head = "env:\n  exported-variables:\n    - IMAGE_TAG\n"
    buildspec = spec(phase("build", "IMAGE_TAG=v1", "sleep 30"), head=head)

    build = run_build(tmp_path, {"buildspec.yml": buildspec}, timeout=0.5)

    assert build.result.status is S.TIMED_OUT
    assert build.result.exported_variables == {}


@pytest.mark.parametrize(
    ("on_failure", "runs"),
    [
        ("RETRY", 4),
        ("RETRY-1", 2),
        ("RETRY-0", 1),
        ("RETRY-.*flaky network.*", 4),
        ("RETRY-2-flaky", 3),
        ("RETRY-2-disk full", 1),
    ],
)
def test_retry_runs_a_failed_phase_again_while_the_policy_allows(tmp_path: Path, on_failure: str, runs: int) -> None:
    counter = tmp_path / "runs"
    buildspec = spec(
        phase("build", f"echo x >> {counter}", "echo 'flaky network'; exit 7", extra=f"    on-failure: {on_failure}\n"),
        phase("post_build", "echo post"),
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert len(counter.read_text().splitlines()) == runs
    assert build.result.status is S.FAILED
    assert build.log.count("retrying it") == runs - 1
    assert ("BUILD", "FAILED") in build.recorder.phases
    assert ("POST_BUILD", "SUCCEEDED") in build.recorder.phases  # after the retries, the usual rules


def test_a_retried_phase_that_then_passes_succeeds(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    flaky = f'echo x >> {counter}; [ "$(wc -l < {counter})" -ge 3 ]'
    buildspec = spec(phase("build", flaky, extra="    on-failure: RETRY\n"))

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is S.SUCCEEDED
    assert len(counter.read_text().splitlines()) == 3


def test_artifact_name_is_evaluated_by_the_shell_and_s3_prefix_namespaces_by_build(tmp_path: Path) -> None:
    artifacts = (
        "artifacts:\n  files: [out/*]\n  name: app-$CODEBUILD_BUILD_NUMBER-$(echo ok)\n  s3-prefix: releases/web\n"
    )
    buildspec = spec(phase("build", "mkdir -p out && echo x > out/a.txt")) + artifacts

    build = run_build(tmp_path, {"buildspec.yml": buildspec}, environment={"CODEBUILD_BUILD_NUMBER": "7"})

    assert build.result.status is S.SUCCEEDED
    assert build.result.artifact is not None
    assert build.result.artifact["key"] == "releases/web/demo:0001/app-7-ok.zip"
    assert build.blobs.exists("releases/web/demo:0001/app-7-ok.zip")
    assert "Uploaded 1 file as app-7-ok.zip" in build.log


def test_exclude_paths_and_symlinks(tmp_path: Path) -> None:
    commands = (
        "mkdir -p dist/logs && echo app > dist/app.txt && echo noise > dist/logs/x.log",
        "ln -s app.txt dist/current",
    )
    artifacts = (
        "artifacts:\n  base-directory: dist\n  files: ['**/*']\n  exclude-paths: ['logs/**/*']\n"
        "  enable-symlinks: yes\n"
    )
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", *commands)) + artifacts})

    assert build.artifact_names() == ["app.txt", "current"]
    assert "Uploaded 2 files as artifact.zip" in build.log
    assert build.result.artifact is not None
    with zipfile.ZipFile(io.BytesIO(build.blobs.get_bytes(build.result.artifact["key"]))) as archive:
        link = archive.getinfo("current")
        assert (link.external_attr >> 16) & 0o170000 == 0o120000  # stored as a link
        assert archive.read("current") == b"app.txt"


def test_secondary_artifacts_are_stored_apart_and_a_missing_one_fails_upload(tmp_path: Path) -> None:
    artifacts = (
        "artifacts:\n  files: [app.txt]\n  secondary-artifacts:\n    Docs:\n      files: [docs/*]\n"
        "    Reports:\n      files: [reports/*]\n"
    )
    make = "echo a > app.txt && mkdir -p docs && echo d > docs/index.html"

    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", make)) + artifacts})

    assert build.result.status is S.FAILED
    [context] = build.recorder.contexts_of(P.UPLOAD_ARTIFACTS)
    assert context["message"].startswith("secondary artifact Reports: no matching artifact paths found")

    both = run_build(
        tmp_path / "again",
        {"buildspec.yml": spec(phase("build", make, "mkdir -p reports && echo r > reports/r.xml")) + artifacts},
    )
    assert both.result.artifact is not None
    assert set(both.result.artifact["secondary"]) == {"Docs", "Reports"}
    assert both.result.artifact["secondary"]["Docs"]["key"] == "builds/demo/0001/Docs.zip"
