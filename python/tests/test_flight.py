"""The Arrow Flight service, through pyarrow.flight directly and the SDK."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.flight as fl
import pytest

import featurevault as fvlib
from featurevault import Client

from .conftest import MAX_BATCH_BYTES, Server


def raw(server: Server, token: str, purpose: str = "training", strict: bool = False) -> tuple[fl.FlightClient, fl.FlightCallOptions]:
    """A plain pyarrow Flight client and call options: no SDK involved."""
    headers = [(b"authorization", b"Bearer " + token.encode()), (b"featurevault-purpose", purpose.encode())]
    if strict:
        headers.append((b"featurevault-strict", b"true"))
    return fl.FlightClient("grpc://" + server.url.removeprefix("http://")), fl.FlightCallOptions(headers=headers)


def test_pyarrow_flight_client_reads_a_view_without_the_sdk(server: Server) -> None:
    c, opts = raw(server, server.tokens["ana"])
    table = c.do_get(fl.Ticket(json.dumps({"view": "profile"}).encode()), options=opts).read_all()
    assert table.column_names == ["customer_id", "event_timestamp", "age", "score"]
    assert table.num_rows == 9
    assert sorted(table.column("age").to_pylist()) == [20, 21, 22, 30, 31, 32, 40, 41, 42]


def test_list_flights_get_flight_info_and_schema_omit_denied_columns(server: Server) -> None:
    c, opts = raw(server, server.tokens["ana"])
    infos = {fi.descriptor.path[0].decode(): fi for fi in c.list_flights(options=opts)}
    assert set(infos) == {"profile", "big"}
    assert infos["profile"].schema.names == ["customer_id", "event_timestamp", "age", "score"]
    assert json.loads(infos["profile"].app_metadata)["denied_features"] == ["income", "email"]
    # The listed ticket reads the view.
    t = c.do_get(infos["profile"].endpoints[0].ticket, options=opts).read_all()
    assert t.num_rows == 9
    desc = fl.FlightDescriptor.for_command(json.dumps({"view": "profile", "features": ["age"]}))
    info = c.get_flight_info(desc, options=opts)
    assert info.schema.names == ["customer_id", "event_timestamp", "age"]
    assert c.get_schema(fl.FlightDescriptor.for_path("profile"), options=opts).schema.names == ["customer_id", "event_timestamp", "age", "score"]
    # The admin sees every column.
    ac, aopts = raw(server, server.admin)
    assert ac.get_schema(fl.FlightDescriptor.for_path("profile"), options=aopts).schema.names[2:] == ["age", "income", "email", "score"]


def test_sdk_read_view_times_and_as_of(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["ana"], purpose="training")
    r = fv.read_view("profile")
    assert isinstance(r.to_reader(), pa.RecordBatchReader)
    t = fv.read_view("profile", start="2026-01-02T00:00:00Z", end=dt.datetime(2026, 1, 3)).read_all()
    assert sorted(t.column("age").to_pylist()) == [21, 31, 41]
    latest = fv.read_view("profile", ["age"], as_of=dt.datetime(2026, 1, 2, 12, tzinfo=dt.timezone.utc)).to_pandas()
    assert sorted(latest["age"]) == [21, 31, 41]
    assert list(latest.columns) == ["customer_id", "event_timestamp", "age"]


def test_denied_column_never_appears_and_strict_mode_fails(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["ana"], purpose="training")
    r = fv.read_view("profile", ["age", "income", "email"])
    t = r.read_all()
    assert t.column_names == ["customer_id", "event_timestamp", "age"]
    assert r.denied_features == ["income", "email"]
    assert "income" not in fv.schema("profile").names
    strict = Client(server.url, token=server.tokens["ana"], purpose="training", strict=True)
    with pytest.raises(fvlib.PermissionDenied) as e:
        strict.read_view("profile").read_all()
    assert e.value.code == "permission_denied"
    assert "income" in e.value.message and "email" in e.value.message
    # The join refuses a denied column in strict mode too.
    with pytest.raises(fvlib.PermissionDenied):
        labels = pa.table({"customer_id": ["c-1"], "event_timestamp": pa.array([dt.datetime(2026, 1, 2)], pa.timestamp("us", "UTC"))})
        strict.historical_features(labels, ["profile:income"]).read_all()


def test_purpose_not_in_the_principals_attributes_is_refused(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["ana"], purpose="marketing")
    with pytest.raises(fvlib.PermissionDenied) as e:
        fv.read_view("profile")
    assert "marketing" in e.value.message
    c, opts = raw(server, server.tokens["ana"], purpose="marketing")
    with pytest.raises(fl.FlightUnauthorizedError):
        c.do_get(fl.Ticket(b'{"view": "profile"}'), options=opts).read_all()
    with pytest.raises(fvlib.PermissionDenied):
        fv.list_views()


def test_revocation_applies_at_once(server: Server) -> None:
    token = server.principal("temp", "analyst", "training")
    fv = Client(server.url, token=token, purpose="training")
    assert fv.read_view("profile").read_all().num_rows == 9
    server.cli("principal", "revoke", "temp")
    with pytest.raises(fvlib.Unauthenticated) as e:
        fv.read_view("profile")
    assert "revoked" in e.value.message
    with pytest.raises(fvlib.Unauthenticated):
        fv.get_online("profile", ["c-1"])


def test_flight_reads_are_in_the_audit_log(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["ana"], purpose="analytics")
    assert fv.read_view("profile", ["age", "income"]).read_all().num_rows == 9
    recs = [r for r in server.audit() if r.get("procedure") == "/arrow.flight.protocol.FlightService/DoGet" and r["principal"] == "ana" and r.get("purpose") == "analytics"]
    assert [r["action"] for r in recs[-2:]] == ["read", "read:done"]
    assert recs[-2]["allowed"] == ["age"] and recs[-2]["denied"] == ["income"]
    assert recs[-1]["detail"] == "9 rows"
    assert server.cli("audit", "verify").strip() != ""


@pytest.mark.parametrize(
    "ticket, fragment",
    [
        (b"profile", "not a FeatureVault JSON command"),
        (b"", "empty"),
        (b'{"view": "profile", "colums": ["age"]}', "colums"),
        (b'{"view": "profile", "ingest": "profile"}', "exactly one"),
        (b'{"join": ["profile:age"]}', "without entity_rows"),
        (b'{"view": "profile", "as_of": "yesterday"}', "RFC 3339"),
        (b'{"view": "profile"} {"view": "big"}', "one JSON object"),
    ],
)
def test_malformed_tickets_are_invalid_argument(server: Server, ticket: bytes, fragment: str) -> None:
    c, opts = raw(server, server.tokens["ana"])
    with pytest.raises(pa.ArrowInvalid) as e:
        c.do_get(fl.Ticket(ticket), options=opts).read_all()
    assert "invalid argument" in str(e.value) and fragment in str(e.value)
    err = fvlib.errors.from_flight(e.value)
    assert isinstance(err, fvlib.InvalidArgument) and fragment in err.message


def test_historical_features_from_a_pandas_label_frame(server: Server) -> None:
    import pandas as pd

    fv = Client(server.url, token=server.tokens["ana"], purpose="training")
    labels = pd.DataFrame({
        "customer_id": ["c-1", "c-2", "c-3", "c-9"],
        "event_timestamp": pd.to_datetime(["2026-01-02T12:00:00Z", "2026-01-01T01:00:00Z", "2026-01-05T00:00:00Z", "2026-01-02T00:00:00Z"]),
        "label": [1, 0, 1, 0],
    })
    df = fv.historical_features(labels, ["profile:age", "profile:income", "profile:score"]).to_pandas()
    assert list(df.columns) == ["customer_id", "event_timestamp", "label", "age", "score"]  # income denied
    assert df["customer_id"].tolist() == ["c-1", "c-2", "c-3", "c-9"]  # input order
    assert df["age"].tolist()[:3] == [21, 30, 42] and pd.isna(df["age"].iloc[3])
    # Raw DoExchange: any Flight client can run the join.
    c, opts = raw(server, server.tokens["ana"])
    w, r = c.do_exchange(fl.FlightDescriptor.for_command(b'{"join": ["profile:age"]}'), options=opts)
    table = pa.Table.from_pandas(labels, preserve_index=False)
    w.begin(table.schema)
    w.write_table(table)
    w.done_writing()
    assert r.read_all().column("age").to_pylist() == [21, 30, 42, None]
    # A small label table can travel in the command: GetFlightInfo, then DoGet.
    cmd = json.dumps({"join": ["profile:age"], "entity_rows": {"customer_id": ["c-2"], "event_timestamp": ["2026-01-03T00:00:00Z"]}})
    info = c.get_flight_info(fl.FlightDescriptor.for_command(cmd), options=opts)
    assert info.schema.names == ["customer_id", "event_timestamp", "age"]
    assert c.do_get(info.endpoints[0].ticket, options=opts).read_all().column("age").to_pylist() == [32]


def rows_of(server: Server, view: str) -> int:
    return Client(server.url, token=server.admin, purpose="training").read_view(view).read_all().num_rows


def profile_rows(n: int, age: object = 33, email_bytes: int = 8, day: int = 10) -> pa.Table:
    return pa.table({
        "customer_id": [f"n-{i}" for i in range(n)],
        "event_timestamp": pa.array([dt.datetime(2026, 1, day, tzinfo=dt.timezone.utc)] * n, pa.timestamp("ns", "UTC")),
        "age": pa.array([age] * n),
        "email": ["x" * email_bytes] * n,
    })


def test_doput_refuses_wrong_types_and_oversized_batches_writing_nothing(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["loader"], purpose="ingestion")
    before = rows_of(server, "profile")
    cases = [
        (profile_rows(3, age="forty"), fvlib.InvalidArgument, "age"),
        (profile_rows(3, age=200), fvlib.InvalidArgument, "above max 150"),
        (profile_rows(600, email_bytes=4096), fvlib.ResourceExhausted, "max-ingest-batch-bytes"),  # ~2.4 MiB
        (profile_rows(2000, email_bytes=4096), fvlib.ResourceExhausted, "larger than max"),  # ~8 MiB, over gRPC's limit
    ]
    for table, exc, fragment in cases:
        with pytest.raises(exc) as e:
            fv.ingest(table, "profile", batch_rows=100_000)
        assert fragment in e.value.message, e.value.message
    assert rows_of(server, "profile") == before
    # Writing is refused to a principal without the write action.
    with pytest.raises(fvlib.PermissionDenied):
        Client(server.url, token=server.tokens["ana"], purpose="training").ingest(profile_rows(2), "profile")
    assert rows_of(server, "profile") == before
    assert MAX_BATCH_BYTES < 600 * 4096


def test_ingest_then_read_back_and_get_online(server: Server) -> None:
    fv = Client(server.url, token=server.tokens["loader"], purpose="ingestion")
    res = fv.ingest(profile_rows(5, day=20).drop_columns(["email"]), "profile")
    assert (res.rows_written, res.batches_written) == (5, 1)
    reader = Client(server.url, token=server.tokens["ana"], purpose="training")
    t = reader.read_view("profile", as_of="2026-01-25T00:00:00Z").read_all()
    assert {k for k in t.column("customer_id").to_pylist() if k.startswith("n-")} >= {f"n-{i}" for i in range(5)}
    rows = reader.get_online("profile", ["n-1", "c-2", "nobody"], ["age", "income"])
    assert [r.entity_key for r in rows] == ["n-1", "c-2", "nobody"]
    assert rows[0].values["age"] == 33 and rows[0].statuses["age"] == "PRESENT"
    assert rows[1].statuses["income"] == "DENIED" and rows[1].values["income"] is None
    assert rows[2].statuses["age"] == "NOT_FOUND"
    with pytest.raises(fvlib.NotFound):
        reader.get_online("nope", ["c-1"])


def test_duckdb_and_polars_read_a_view_through_the_sdk(server: Server) -> None:
    import duckdb
    import polars as pl

    fv = Client(server.url, token=server.tokens["ana"], purpose="training")
    profile = fv.read_view("profile", end="2026-01-04T00:00:00Z")
    got = duckdb.sql("select customer_id, max(age) as age from profile group by customer_id order by customer_id").fetchall()
    assert got == [("c-1", 22), ("c-2", 32), ("c-3", 42)]
    df = fv.read_view("profile", end="2026-01-04T00:00:00Z").to_polars()
    assert isinstance(df, pl.DataFrame)
    assert df.group_by("customer_id").agg(pl.col("score").max()).sort("customer_id")["score"].to_list() == pytest.approx([0.2, 1.2, 2.2])
