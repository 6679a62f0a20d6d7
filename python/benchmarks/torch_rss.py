"""Streams a large view through FeatureVaultDataset and reports the RSS.

Starts a server built from the repository (as the tests do), ingests
ROWS rows into the view ``big`` (x float64, y int64, a bytes column of
BLOB bytes) through Flight DoPut, then reads it back through the PyTorch
dataset and prints the process's RSS after the first batches and at its
peak, beside the size of the view.

    python python/benchmarks/torch_rss.py [ROWS] [BLOB]   # default 1000000 0
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import start_server  # noqa: E402
from tests.test_torch import rss_bytes  # noqa: E402


def rows_table(start: int, n: int, blob: int) -> pa.Table:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return pa.table({
        "customer_id": [f"b-{i % 1000}" for i in range(start, start + n)],
        "event_timestamp": pa.array([t0 + dt.timedelta(seconds=i) for i in range(start, start + n)], pa.timestamp("ns", "UTC")),
        "x": pa.array([float(i) for i in range(start, start + n)]),
        "y": pa.array(list(range(start, start + n)), pa.int64()),
        "blob": pa.array([bytes(blob)] * n, pa.binary()),
    })


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    blob = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    import torch

    from featurevault import Client
    from featurevault.dataset import FeatureVaultDataset

    tmp = Path(tempfile.mkdtemp(prefix="featurevault-rss-"))
    server, proc = start_server(tmp)
    try:
        loader = Client(server.url, token=server.admin, purpose="ingestion")
        t = time.monotonic()
        step = 50_000
        for start in range(0, rows, step):
            loader.ingest(rows_table(start, min(step, rows - start), blob), "big", batch_rows=max(100, min(16384, (1 << 20) // max(blob, 64))))
        print(f"ingested {rows} rows in {time.monotonic() - t:.1f}s", flush=True)
        base_start = rss_bytes()
        ds = FeatureVaultDataset(server.url, "big", token=server.admin, purpose="training", batch_rows=4096)
        seen, base, peak = 0, 0, 0
        t = time.monotonic()
        for i, batch in enumerate(torch.utils.data.DataLoader(ds, batch_size=None)):
            seen += len(batch["x"])
            if i == 5:
                base = rss_bytes()
            peak = max(peak, rss_bytes())
        secs = time.monotonic() - t
        view_mib = rows * (8 + 8 + 8 + 8 + blob) / (1 << 20)
        print(f"read {seen} rows through FeatureVaultDataset in {secs:.1f}s ({seen / secs:,.0f} rows/s)")
        print(f"view: ~{view_mib:.0f} MiB as Arrow; RSS before reading {base_start >> 20} MiB, after 6 batches {base >> 20} MiB, peak {peak >> 20} MiB (+{(peak - base) >> 20} MiB while streaming)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
