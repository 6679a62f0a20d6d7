"""A real FeatureVault server, built from this repository, for the tests.

The session builds ``cmd/featurevault`` with ``go build``, starts
``featurevault serve`` on a loopback port with a fresh data directory,
reads the URL it prints and the bootstrap admin token, and sets up views,
rows, principals and policies through the CLI, as an operator would.
Without Go the tests skip, loudly; with the environment variable CI set
they fail instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "python" / "src"
# The tests exercise this checkout's package, whatever version is installed.
sys.path.insert(0, str(SRC))

#: The server's --max-ingest-batch-bytes: small, so the refusal of a
#: larger batch is quick to test.
MAX_BATCH_BYTES = 2 << 20

SPEC = """
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: age,    type: int64, min: 0, max: 150}
      - {name: income, type: float64, tags: [pii]}
      - {name: email,  type: string,  tags: [pii]}
      - {name: score,  type: float64}
  - name: big
    entity: customer
    fields:
      - {name: x, type: float64}
      - {name: y, type: int64}
      - {name: blob, type: bytes}
"""


@dataclasses.dataclass
class Server:
    """A running server and the principals the tests use."""

    url: str
    data: Path
    binary: Path
    admin: str
    tokens: dict[str, str]

    def cli(self, *args: str, token: str | None = None) -> str:
        """Runs a client command of the featurevault CLI against the server."""
        env = dict(os.environ, FEATUREVAULT_SERVER=self.url, FEATUREVAULT_TOKEN=token or self.admin)
        p = subprocess.run([str(self.binary), *args], env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"featurevault {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout

    def principal(self, name: str, roles: str, purposes: str) -> str:
        out = self.cli("principal", "create", name, "--role", roles, "--attr", f"purpose={purposes}")
        m = re.search(r"token: (\S+)", out)
        assert m, out
        self.tokens[name] = m.group(1)
        return m.group(1)

    def audit(self, n: int = 200) -> list[dict]:
        out = self.cli("audit", "tail", "-n", str(n), "-o", "json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _skip_or_fail(msg: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set, so this is a failure)")
    print(f"\nSKIPPING the FeatureVault server tests: {msg}", file=sys.stderr)
    pytest.skip(msg)


def start_server(tmp: Path) -> tuple[Server, subprocess.Popen]:
    """Builds the featurevault binary into tmp, serves a fresh data
    directory there on a loopback port, and applies SPEC. The caller
    terminates the process."""
    go = shutil.which("go")
    if go is None:
        raise FileNotFoundError("the go command is not on PATH, so no server can be built from the repository")
    binary = tmp / "featurevault"
    subprocess.run([go, "build", "-o", str(binary), "./cmd/featurevault"], cwd=REPO, check=True, timeout=600)
    data = tmp / "data"
    proc = subprocess.Popen(
        [str(binary), "serve", "--data", str(data), "--listen", "127.0.0.1:0", "--log-level", "warn",
         "--max-ingest-batch-bytes", str(MAX_BATCH_BYTES)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"serving on (http\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise RuntimeError("featurevault serve did not print its URL")
        admin = (data / "admin.token").read_text().strip()
        s = Server(url=url, data=data, binary=binary, admin=admin, tokens={})
        spec = tmp / "spec.yaml"
        spec.write_text(SPEC)
        s.cli("apply", "-f", str(spec))
        return s, proc
    except BaseException:
        proc.kill()
        raise


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    if shutil.which("go") is None:
        _skip_or_fail("the go command is not on PATH, so no server can be built from the repository")
    tmp = Path(tempfile.mkdtemp(prefix="featurevault-pytest-"))
    s, proc = start_server(tmp)
    try:
        # analyst: every column of profile but the pii ones, for training.
        s.cli("policy", "grant", "analyst", "--action", "read", "--on", "profile.*")
        s.cli("policy", "grant", "analyst", "--action", "read", "--on", "big.*")
        s.cli("policy", "grant", "analyst", "--action", "read", "--on", "tag:pii", "--deny")
        s.cli("policy", "grant", "loader", "--action", "write", "--on", "profile.*")
        s.cli("policy", "grant", "loader", "--action", "write", "--on", "big.*")
        s.principal("ana", "analyst", "training|analytics")
        s.principal("loader", "loader,analyst", "ingestion|training")
        rows = tmp / "rows.jsonl"
        with rows.open("w") as f:
            for i, key in enumerate(["c-1", "c-2", "c-3"]):
                for day in range(3):
                    f.write(json.dumps({
                        "entity": key, "event_time": f"2026-01-0{day + 1}T00:00:00Z",
                        "values": {"age": 20 + 10 * i + day, "income": 1000.0 * (i + 1), "email": f"{key}@example.com", "score": i + day / 10},
                    }) + "\n")
        s.cli("put", "--purpose", "ingestion", "--view", "profile", "-f", str(rows))
        yield s
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
