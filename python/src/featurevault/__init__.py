"""FeatureVault for Python training jobs.

FeatureVault is an encrypted feature store: every value is encrypted under
its data subject's key, and every request is decided column by column by
the store's policy and recorded in its audit log. This package reads and
writes it from Python:

>>> from featurevault import Client
>>> fv = Client("http://127.0.0.1:8433", token="fvt_...", purpose="training")  # doctest: +SKIP
>>> df = fv.read_view("customer_profile", as_of="2026-11-01T00:00:00Z").to_pandas()  # doctest: +SKIP
>>> train = fv.historical_features(labels_df, features=["customer_profile:income"]).to_pandas()  # doctest: +SKIP

Tables travel over Arrow Flight on the server's port (any Flight client,
``pyarrow.flight.FlightClient`` included, can read them: tickets are JSON
commands such as ``{"view": "customer_profile"}``); online lookups over
Connect with JSON. ``featurevault.dataset.FeatureVaultDataset`` streams a
view into PyTorch (the ``torch`` extra).
"""

from .client import Client, IngestResult, OnlineRow, ViewInfo, ViewReader
from .errors import (
    FailedPrecondition,
    FeatureVaultError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "Client",
    "ViewReader",
    "ViewInfo",
    "IngestResult",
    "OnlineRow",
    "FeatureVaultError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
    "ResourceExhausted",
    "FailedPrecondition",
    "Unavailable",
]
