"""The baseline of bench/webhook_ingest.py: a Flask endpoint that answers 200 and does nothing else."""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask("bare")


@app.post("/webhooks/github")
def receive():
    return jsonify({"status": "ok"}), 200
