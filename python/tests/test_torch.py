"""The PyTorch dataset streams a view with flat memory."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pyarrow as pa
import pytest

from featurevault import Client

from .conftest import Server

if os.environ.get("CI"):
    import torch  # CI installs the torch extra: its absence is a failure there
else:
    torch = pytest.importorskip("torch", reason="SKIPPING the PyTorch dataset tests: torch is not installed (pip install 'featurevault[torch]')")


def rss_bytes() -> int:
    """The process's resident set size now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def big_rows(start: int, n: int, blob: int) -> pa.Table:
    return pa.table({
        "customer_id": [f"b-{i % 500}" for i in range(start, start + n)],
        "event_timestamp": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i) for i in range(start, start + n)], pa.timestamp("ns", "UTC")),
        "x": pa.array([float(i) for i in range(start, start + n)]),
        "y": pa.array(list(range(start, start + n)), pa.int64()),
        "blob": pa.array([bytes(blob)] * n, pa.binary()),
    })


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS is read from /proc")
def test_dataset_streams_a_large_view_with_bounded_rss(server: Server) -> None:
    from featurevault.dataset import FeatureVaultDataset

    rows, blob = 20_000, 8192  # 160 MB of values: over three times the RSS bound below
    loader = Client(server.url, token=server.tokens["loader"], purpose="ingestion")
    for start in range(0, rows, 10_000):
        res = loader.ingest(big_rows(start, 10_000, blob), "big", batch_rows=200)
        assert res.rows_written == 10_000
    ds = FeatureVaultDataset(server.url, "big", token=server.tokens["ana"], purpose="training", batch_rows=256)
    dl = torch.utils.data.DataLoader(ds, batch_size=None)
    seen = 0
    total = 0.0
    base = peak = 0
    for i, batch in enumerate(dl):
        assert set(batch) == {"x", "y"} and batch["x"].dtype == torch.float32
        seen += len(batch["x"])
        total += float(batch["y"].double().sum())
        if i == 5:
            base = rss_bytes()
        peak = max(peak, rss_bytes())
    assert seen == rows
    assert total == rows * (rows - 1) / 2
    growth = peak - base
    print(f"\nPyTorch dataset: {rows} rows, {rows * blob >> 20} MiB of blobs streamed, RSS {base >> 20} MiB after 6 batches, peak {peak >> 20} MiB (+{growth >> 20} MiB)")
    assert growth < 48 << 20, f"RSS grew by {growth >> 20} MiB while streaming; the view holds {rows * blob >> 20} MiB"
