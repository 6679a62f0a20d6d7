"""examples/python-training runs against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import REPO, SRC, Server


def test_python_training_example(server: Server) -> None:
    server.cli("apply", "-f", str(REPO / "examples/training/spec.yaml"))
    server.cli("ingest", str(REPO / "examples/training/activity.csv"), "--view", "customer_activity", "--purpose", "ingestion")
    p = subprocess.run(
        [sys.executable, str(REPO / "examples/python-training/train.py"), "--server", server.url, "--token", server.admin],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(SRC)),
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "training set: 402 label rows" in out
    assert "held-out accuracy" in out
    assert "DuckDB, top customers" in out and "Polars, latest rows as of 2026-10-20" in out
