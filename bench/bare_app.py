"""The baseline of bench/webhook_ingest.py and bench/slack_ack.py: Flask endpoints that answer at once and do
nothing else."""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask("bare")


@app.post("/webhooks/github")
def receive():
    return jsonify({"status": "ok"}), 200


@app.post("/chatops/slack")
def acknowledge():
    return jsonify({"response_type": "ephemeral", "text": "ok"}), 200
