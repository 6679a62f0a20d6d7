"""A PyTorch IterableDataset that streams a FeatureVault view.

Needs the ``torch`` extra (``pip install 'featurevault[torch]'``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional, Sequence

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .client import Client, TimeLike

__all__ = ["FeatureVaultDataset"]


class FeatureVaultDataset(IterableDataset):  # type: ignore[type-arg]
    """Streams a view, one record batch at a time, as tensors.

    Each item is one batch (use ``DataLoader(ds, batch_size=None)``): a
    dict mapping each numeric or boolean column to a 1-D tensor of
    ``dtype`` (nulls become NaN), or, with ``transform``, whatever it
    returns for the ``pyarrow.RecordBatch``. Only one batch is decoded at
    a time, so memory stays flat however large the view.

    Each iteration opens its own connection (in its own DataLoader
    worker). With several workers, worker ``i`` of ``n`` keeps batches
    ``i, i+n, ...`` of the stream: every worker reads the view, and each
    batch is yielded once.

    Args:
        url, token, purpose: as for :class:`featurevault.Client`.
        view, features, start, end, as_of, created_cutoff, batch_rows: as
            for :meth:`featurevault.Client.read_view`.
        columns: the columns to convert (default: every numeric or
            boolean one).
        dtype: tensor type of the converted columns.
        transform: a function of each RecordBatch, used instead of the
            conversion.
    """

    def __init__(
        self,
        url: str,
        view: str,
        *,
        token: Optional[str] = None,
        purpose: Optional[str] = None,
        features: Optional[Sequence[str]] = None,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        as_of: Optional[TimeLike] = None,
        created_cutoff: Optional[TimeLike] = None,
        batch_rows: Optional[int] = None,
        columns: Optional[Sequence[str]] = None,
        dtype: torch.dtype = torch.float32,
        transform: Optional[Callable[[pa.RecordBatch], Any]] = None,
    ) -> None:
        super().__init__()
        self.url, self.token, self.purpose = url, token, purpose
        self.view = view
        self.read_args: Dict[str, Any] = dict(
            features=features, start=start, end=end, as_of=as_of, created_cutoff=created_cutoff, batch_rows=batch_rows
        )
        self.columns = list(columns) if columns is not None else None
        self.dtype = dtype
        self.transform = transform

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        n, me = (info.num_workers, info.id) if info is not None else (1, 0)
        with Client(self.url, token=self.token, purpose=self.purpose) as client:
            reader = client.read_view(self.view, **self.read_args)
            for i, batch in enumerate(reader):
                if i % n != me:
                    continue
                yield self.transform(batch) if self.transform else self._tensors(batch)

    def _tensors(self, batch: pa.RecordBatch) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        names = self.columns if self.columns is not None else [
            f.name for f in batch.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type)
        ]
        for name in names:
            col = batch.column(name)
            if col.null_count:
                col = col.cast(pa.float64()).fill_null(float("nan"))
            out[name] = torch.tensor(np.asarray(col.to_numpy(zero_copy_only=False)), dtype=self.dtype)
        return out
