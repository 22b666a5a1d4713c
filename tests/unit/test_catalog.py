"""The provider catalog: repository keys and git source configuration (`conveyor.pipeline.catalog`)."""

from __future__ import annotations

import pytest

from conveyor.pipeline.catalog import git_source, provider_spec, repository_key


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/app.git",
        "https://github.com/acme/app",
        "https://github.com/acme/app/",
        "https://github.com/acme/app.git/",
        "  https://github.com/acme/app.git\n",
        "http://github.com/acme/app.git",
        "https://GitHub.com/Acme/App.git",
        "https://x-access-token:secret@github.com/acme/app.git",
        "https://user@github.com/acme/app",
        "https://github.com:443/acme/app.git",
        "ssh://git@github.com/acme/app.git",
        "ssh://git@github.com:22/acme/app",
        "git://github.com/acme/app.git",
        "git@github.com:acme/app.git",
        "git@github.com:Acme/App",
        "github.com:acme/app.git",
    ],
)
def test_every_spelling_of_a_hosted_repository_gives_one_key(url: str) -> None:
    assert repository_key(url) == "github.com/acme/app"


def test_credentials_never_reach_the_key() -> None:
    key = repository_key("https://deploy:hunter2@git.example.com/team/app.git")
    assert key == "git.example.com/team/app"
    assert "hunter2" not in key


def test_different_hosts_and_paths_give_different_keys() -> None:
    assert repository_key("https://github.com/acme/app") != repository_key("https://gitlab.com/acme/app")
    assert repository_key("https://github.com/acme/app") != repository_key("https://github.com/acme/app2")


def test_nested_group_paths_are_kept() -> None:
    assert repository_key("https://gitlab.com/Group/Sub/App.git") == "gitlab.com/group/sub/app"
    assert repository_key("git@gitlab.com:group/sub/app.git") == "gitlab.com/group/sub/app"


@pytest.mark.parametrize(
    "path",
    ["file:///srv/git/app.git", "file:///srv/git/app", "/srv/git/app.git", "/srv/git/app/", "/srv/git/app.git/"],
)
def test_local_repositories_give_a_file_key(path: str) -> None:
    assert repository_key(path) == "file:/srv/git/app"


def test_local_paths_keep_their_case() -> None:
    assert repository_key("/srv/Git/App.git") == "file:/srv/Git/App"
    assert repository_key("/srv/Git/App") != repository_key("/srv/git/app")


def test_owner_and_repository_name_gives_a_lower_case_key() -> None:
    assert repository_key("Acme/App") == "acme/app"
    assert repository_key("acme/app") == "acme/app"


def test_git_source_defaults_the_url_to_github_from_the_full_repository_id() -> None:
    source = git_source({"FullRepositoryId": "acme/app", "BranchName": "main"})
    assert source.repository_id == "acme/app"
    assert source.branch == "main"
    assert source.url == "https://github.com/acme/app.git"
    assert source.aliases == ()
    assert source.detect_changes is True


def test_git_source_prefers_an_explicit_repository_url() -> None:
    source = git_source({"FullRepositoryId": "acme/app", "BranchName": "main", "RepositoryUrl": "/srv/git/app.git"})
    assert source.url == "/srv/git/app.git"
    assert source.repository_keys() == {"file:/srv/git/app", "acme/app"}


def test_git_source_reads_github_v1_owner_repo_and_branch() -> None:
    source = git_source({"Owner": "acme", "Repo": "app", "Branch": "release"})
    assert source.repository_id == "acme/app"
    assert source.branch == "release"
    assert source.url == "https://github.com/acme/app.git"


def test_git_source_prefers_the_v2_spelling_over_github_v1() -> None:
    source = git_source(
        {"FullRepositoryId": "acme/new", "BranchName": "main", "Owner": "acme", "Repo": "old", "Branch": "legacy"}
    )
    assert (source.repository_id, source.branch) == ("acme/new", "main")


def test_git_source_without_a_repository_has_no_url() -> None:
    source = git_source({"BranchName": "main"})
    assert (source.repository_id, source.url) == ("", "")


def test_git_source_splits_and_trims_repository_aliases() -> None:
    source = git_source(
        {
            "FullRepositoryId": "acme/app",
            "BranchName": "main",
            "RepositoryAliases": " git@mirror.example.com:acme/app.git , ,/srv/git/app.git",
        }
    )
    assert source.aliases == ("git@mirror.example.com:acme/app.git", "/srv/git/app.git")
    assert source.repository_keys() == {
        "github.com/acme/app",
        "acme/app",
        "mirror.example.com/acme/app",
        "file:/srv/git/app",
    }


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("FALSE", False), (False, False), ("true", True)])
def test_git_source_reads_detect_changes(value: object, expected: bool) -> None:
    source = git_source({"FullRepositoryId": "acme/app", "BranchName": "main", "DetectChanges": value})
    assert source.detect_changes is expected


def test_provider_spec_knows_the_providers_conveyor_runs() -> None:
    codebuild = provider_spec("Build", "CodeBuild")
    assert codebuild is not None
    assert (codebuild.inputs, codebuild.outputs) == ((1, 5), (0, 5))
    assert "ProjectName" in codebuild.required
    source = provider_spec("Source", "CodeStarSourceConnection")
    assert source is not None
    assert source.is_source
    assert provider_spec("Deploy", "CodeBuild") is None
    s3_source, s3_deploy = provider_spec("Source", "S3"), provider_spec("Deploy", "S3")
    assert s3_source is not None
    assert s3_deploy is not None
    assert (s3_source.inputs, s3_source.outputs, s3_source.output_variables) == ((0, 0), (1, 1), {"ETag", "VersionId"})
    assert (s3_deploy.inputs, s3_deploy.outputs, s3_deploy.required) == ((1, 1), (0, 0), {"BucketName", "Extract"})
