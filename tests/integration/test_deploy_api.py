"""Deployments through the REST API: upload a bundle, deploy it, watch each host, refuse, stop and redeploy."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from conveyor.runtime import Runtime
from tests.support.hosts import IN_PLACE_EVENTS, app_revision, make_fleet, zip_bytes

DEPLOYMENTS = "/api/v1/applications/shop/deployment-groups/web/deployments"


def _upload(client: FlaskClient, files: dict[str, str]) -> dict[str, object]:
    answer = client.post(
        "/api/v1/deployment-bundles?filename=app.zip", data=zip_bytes(files), content_type="application/zip"
    )
    assert answer.status_code == 201, answer.get_json()
    revision: dict[str, object] = answer.get_json()["revision"]
    return revision


def test_a_bundle_is_uploaded_deployed_and_watched_per_host(client: FlaskClient, rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 2)
    revision = _upload(client, app_revision("v1"))
    assert revision["revisionType"] == "Bundle"
    assert _upload(client, app_revision("v1")) == revision  # content-addressed: the same bundle, the same key

    created = client.post(DEPLOYMENTS, json={"revision": revision, "description": "first"})
    assert created.status_code == 201, created.get_json()
    deployment_id = created.get_json()["deploymentId"]
    busy = client.post(DEPLOYMENTS, json={"revision": revision})
    assert busy.status_code == 409
    assert deployment_id in busy.get_json()["message"]
    fleet.work()

    shown = client.get(f"/api/v1/deployments/{deployment_id}").get_json()
    assert shown["status"] == "Succeeded"
    assert shown["deploymentOverview"]["Succeeded"] == 2
    for target in shown["targets"]:
        assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == IN_PLACE_EVENTS
        assert all("startTime" in e and "endTime" in e for e in target["lifecycleEvents"][1:])
    listed = client.get(DEPLOYMENTS).get_json()["deployments"]
    assert [d["deploymentId"] for d in listed] == [deployment_id]

    again = client.post(f"/api/v1/deployments/{deployment_id}/redeploy", json={})
    assert again.status_code == 201
    stopped = client.post(f"/api/v1/deployments/{again.get_json()['deploymentId']}/stop", json={})
    assert stopped.status_code == 200
    fleet.work()
    assert client.get(f"/api/v1/deployments/{again.get_json()['deploymentId']}").get_json()["status"] == "Stopped"


def test_an_invalid_appspec_is_a_400_listing_every_problem(client: FlaskClient, rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    files = {**app_revision("v1"), "appspec.yml": "version: 0.0\nos: linux\nhooks:\n  Install: []\n  Bogus: []\n"}
    answer = client.post(DEPLOYMENTS, json={"revision": _upload(client, files)})
    assert answer.status_code == 400
    paths = {p["path"] for p in answer.get_json()["problems"]}
    assert {"hooks.Install", "hooks.Bogus"} <= paths
    assert client.post(DEPLOYMENTS, json={"revision": {"revisionType": "Git"}}).status_code == 400
    assert client.get("/api/v1/deployments/d-NOTHERE00").status_code == 404


def test_a_bundle_larger_than_a_webhook_is_accepted(client: FlaskClient, rt: Runtime, tmp_path: Path) -> None:
    """The app caps request bodies at 25 MB (GitHub's webhook size); the bundle route takes up to 512 MiB."""
    import os
    import zipfile

    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        archive.writestr("blob.bin", os.urandom(30 * 1024 * 1024))
    answer = client.post(
        "/api/v1/deployment-bundles?filename=big.zip", data=big.read_bytes(), content_type="application/zip"
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["revision"]["revisionType"] == "Bundle"
