"""A training job in Python against FeatureVault.

It builds a point-in-time-correct training set from a label DataFrame
(examples/training/labels.csv: a customer, a time and a churn label),
fits a scikit-learn model on it, queries the same view with DuckDB and
reads it with Polars — every read decided by the store's column policy
and recorded in its audit log.

    python examples/python-training/train.py --server http://127.0.0.1:8433 --token "$(cat featurevault-data/admin.token)"

It reads the data the Go training example loads (examples/training).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from featurevault import Client

HERE = Path(__file__).resolve().parent
FEATURES = ["orders_7d", "spend_7d", "days_since_signup"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=os.environ.get("FEATUREVAULT_SERVER", "http://127.0.0.1:8433"))
    ap.add_argument("--token", default=os.environ.get("FEATUREVAULT_TOKEN"))
    ap.add_argument("--purpose", default="training")
    ap.add_argument("--labels", default=str(HERE.parent / "training" / "labels.csv"))
    args = ap.parse_args()
    token = args.token or (Path("featurevault-data") / "admin.token").read_text().strip()
    fv = Client(args.server, token=token, purpose=args.purpose)

    # 1. A point-in-time training set: each label row gets the features as
    #    they were at its timestamp (never a later value, nothing older
    #    than the view's 720h TTL).
    labels = pd.read_csv(args.labels)
    labels["event_timestamp"] = pd.to_datetime(labels["event_timestamp"], utc=True)
    train = fv.historical_features(labels, [f"customer_activity:{f}" for f in FEATURES]).to_pandas()
    found = train.dropna(subset=FEATURES)
    print(f"training set: {len(train)} label rows, {len(found)} with features at their time")

    # 2. A scikit-learn model fitted on it.
    x_train, x_test, y_train, y_test = train_test_split(found[FEATURES], found["churned"], test_size=0.25, random_state=7)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    print(f"logistic regression on {len(x_train)} rows: held-out accuracy {model.score(x_test, y_test):.3f}")
    for name, coef in zip(FEATURES, model.coef_[0]):
        print(f"  {name:<18} {coef:+.4f}")

    # 3. The same view queried with DuckDB: the reader is an Arrow stream,
    #    which DuckDB scans as it arrives.
    activity = fv.read_view("customer_activity", FEATURES)
    top = duckdb.sql(
        "select customer_id, round(avg(spend_7d), 2) as avg_spend_7d, sum(orders_7d) as orders "
        "from activity group by customer_id order by avg_spend_7d desc limit 3"
    ).fetchall()
    print("DuckDB, top customers by average 7-day spend:")
    for row in top:
        print(f"  {row[0]}  {row[1]:>8}  {row[2]:>4} orders")

    # 4. And with Polars: the latest row of each customer as of a time.
    latest = fv.read_view("customer_activity", FEATURES, as_of="2026-10-20T00:00:00Z").to_polars()
    summary = latest.select(pl.len().alias("customers"), pl.col("spend_7d").mean().round(2).alias("mean_spend_7d"))
    print(f"Polars, latest rows as of 2026-10-20: {summary.row(0)[0]} customers, mean spend_7d {summary.row(0)[1]}")


if __name__ == "__main__":
    main()
