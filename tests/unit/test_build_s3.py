"""A build whose source and artifacts live in S3 (moto): the same runner, the blob store behind it changes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from conveyor.blobs import S3BlobStore
from tests.unit.test_blobs import s3_store  # noqa: F401 -- a fixture used below
from tests.unit.test_build_runner import phase, run_build, source_zip, spec


def test_a_build_reads_its_source_from_s3_and_stores_its_artifacts_there(
    tmp_path: Path,
    s3_store: S3BlobStore,  # noqa: F811
) -> None:
    buildspec = spec(
        phase("build", "mkdir -p out docs", "echo app > out/app.bin", "echo guide > docs/guide.md", "cat notes.txt")
    ) + (
        "artifacts:\n  files: ['out/*']\n  name: app-$(cat notes.txt)\n  s3-prefix: releases\n"
        "  secondary-artifacts:\n    Docs:\n      files: ['docs/**/*']\n"
    )
    files = {"buildspec.yml": buildspec, "notes.txt": "v7"}

    build = run_build(tmp_path, files, archive=source_zip(tmp_path, files), blobs=s3_store)

    assert build.result.status.value == "SUCCEEDED", build.log
    assert "v7" in build.output
    artifact = build.result.artifact
    assert artifact is not None
    assert artifact["key"] == "releases/demo:0001/app-v7.zip"
    assert s3_store.url(artifact["key"]).startswith(f"s3://{s3_store.bucket}/")
    listed = set(s3_store.list("releases/")) | set(s3_store.list("builds/"))
    assert listed == {"releases/demo:0001/app-v7.zip", "builds/demo/0001/Docs.zip"}
    with zipfile.ZipFile(io.BytesIO(s3_store.get_bytes("builds/demo/0001/Docs.zip"))) as archive:
        assert archive.read("docs/guide.md") == b"guide\n"
