"""The FeatureVault client: Arrow Flight for tables, Connect for lookups."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.flight as flight

from . import errors

__all__ = ["Client", "ViewReader", "ViewInfo", "IngestResult", "OnlineRow"]

TimeLike = Union[str, _dt.datetime, _dt.date]

#: Label rows written per DoExchange batch: each batch is one join on the
#: server and must fit its request message limit.
JOIN_BATCH_ROWS = 8192
#: Rows written per DoPut batch: each batch is one atomic commit.
INGEST_BATCH_ROWS = 16384


def _time(name: str, t: Optional[TimeLike]) -> Optional[str]:
    """RFC 3339 text for a time; naive datetimes are taken as UTC."""
    if t is None:
        return None
    if isinstance(t, str):
        return t
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(t, _dt.date):
        return f"{t.isoformat()}T00:00:00Z"
    raise TypeError(f"{name} must be a datetime, a date or an RFC 3339 string, not {type(t).__name__}")


def _command(**kw: Any) -> bytes:
    return json.dumps({k: v for k, v in kw.items() if v not in (None, False, [])}).encode()


@dataclass(frozen=True)
class ViewInfo:
    """A feature view as the caller may read it.

    ``schema`` holds the entity key, ``event_timestamp`` and the fields
    policy lets the caller read for its purpose; denied fields are left
    out (and named in ``denied_features``).
    """

    name: str
    schema: pa.Schema
    description: str = ""
    denied_features: Sequence[str] = ()


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote: counts, never values."""

    rows_checked: int
    rows_written: int
    values_written: int
    batches_written: int


@dataclass(frozen=True)
class OnlineRow:
    """The latest values of one entity.

    ``values`` maps each feature to its value, or None when it has none;
    ``statuses`` says why (``PRESENT``, ``NULL``, ``NOT_FOUND``,
    ``EXPIRED`` or ``DENIED``).
    """

    entity_key: str
    event_time: Optional[_dt.datetime]
    values: Mapping[str, Any] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)


class ViewReader:
    """A stream of record batches from the server.

    It reads one batch at a time as the server scans and decrypts them, so
    memory holds a batch, not the table. Iterate it for
    ``pyarrow.RecordBatch`` objects, or convert it once: ``read_all()``
    (a ``pyarrow.Table``), ``to_pandas()``, ``to_polars()``, or
    ``to_reader()`` (a ``pyarrow.RecordBatchReader``, streaming). It
    implements the Arrow PyCapsule stream protocol, so DuckDB, Polars and
    pyarrow accept it directly (``duckdb.sql("select ... from r")``,
    ``pl.from_arrow(r)``). A reader is consumed once.
    """

    def __init__(self, reader: flight.FlightStreamReader, keepalive: Any = None) -> None:
        self._reader = reader
        self._keepalive = keepalive  # a DoExchange's writer: the call ends with it
        try:
            self.schema: pa.Schema = reader.schema
        except flight.FlightError as e:
            raise errors.from_flight(e) from None
        except pa.ArrowException as e:
            raise errors.from_flight(e) from None
        #: Features policy withheld, when the server named them (known
        #: once the first batch is read).
        self.denied_features: list[str] = []

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                chunk = self._reader.read_chunk()
            except StopIteration:
                return
            except (flight.FlightError, pa.ArrowException) as e:
                raise errors.from_flight(e) from None
            if chunk.app_metadata is not None and not self.denied_features:
                try:
                    self.denied_features = list(json.loads(chunk.app_metadata.to_pybytes()).get("denied_features", []))
                except ValueError:
                    pass
            if chunk.data is not None:
                yield chunk.data

    def read_next_batch(self) -> pa.RecordBatch:
        """Returns the next batch; raises StopIteration at the end."""
        return next(iter(self))

    def to_reader(self) -> pa.RecordBatchReader:
        """A ``pyarrow.RecordBatchReader`` over the remaining batches."""
        return pa.RecordBatchReader.from_batches(self.schema, iter(self))

    def read_all(self) -> pa.Table:
        """Reads every remaining batch into a table."""
        return pa.Table.from_batches(list(self), schema=self.schema)

    def to_pandas(self, **kwargs: Any) -> Any:
        """Reads everything into a pandas DataFrame (needs the pandas extra)."""
        return self.read_all().to_pandas(**kwargs)

    def to_polars(self) -> Any:
        """Reads everything into a Polars DataFrame (needs the polars extra)."""
        import polars as pl

        return pl.from_arrow(self.read_all())

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def close(self) -> None:
        """Stops reading: the server's stream is cancelled."""
        self._reader.cancel()

    def __enter__(self) -> "ViewReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Client:
    """A client of one FeatureVault server.

    Args:
        url: the server's URL as ``featurevault serve`` prints it
            (``http://127.0.0.1:8433``, or ``https://...`` with TLS). Flight
            calls go to the same port.
        token: the principal's bearer token (default: ``FEATUREVAULT_TOKEN``).
        purpose: the purpose every request states (default:
            ``FEATUREVAULT_PURPOSE``); it must be one the principal's
            ``purpose`` attribute lists.
        strict: fail a read as a whole (PermissionDenied) when policy
            denies any requested column, instead of leaving it out.
        tls_root_certs: PEM bytes of the CA that signed the server's
            certificate, when it is not in the system's trust store.
        timeout: seconds a call may take (default: no limit).

    The token is sent only in the ``authorization`` header of each call.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        purpose: Optional[str] = None,
        *,
        strict: bool = False,
        tls_root_certs: Optional[bytes] = None,
        timeout: Optional[float] = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
            raise ValueError(f"url {url!r}: give the server's URL with its port, e.g. http://127.0.0.1:8433")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.token = token if token is not None else os.environ.get("FEATUREVAULT_TOKEN", "")
        self.purpose = purpose if purpose is not None else os.environ.get("FEATUREVAULT_PURPOSE", "")
        self.strict = strict
        self.timeout = timeout
        scheme = "grpc+tls" if parts.scheme == "https" else "grpc+tcp"
        kwargs: dict[str, Any] = {}
        if tls_root_certs is not None:
            kwargs["tls_root_certs"] = tls_root_certs
        self._flight = flight.FlightClient(f"{scheme}://{parts.netloc}", **kwargs)
        self._ssl: Optional[ssl.SSLContext] = None
        if parts.scheme == "https":
            self._ssl = ssl.create_default_context(cadata=tls_root_certs.decode() if tls_root_certs else None)

    def _headers(self, strict: Optional[bool] = None) -> list[tuple[str, str]]:
        h = [("featurevault-purpose", self.purpose)]
        if self.token:
            h.append(("authorization", "Bearer " + self.token))
        if strict if strict is not None else self.strict:
            h.append(("featurevault-strict", "true"))
        return h

    def _options(self, strict: Optional[bool] = None) -> flight.FlightCallOptions:
        return flight.FlightCallOptions(
            headers=[(k.encode(), v.encode()) for k, v in self._headers(strict)], timeout=self.timeout
        )

    def close(self) -> None:
        """Closes the Flight connection."""
        self._flight.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Reads -----------------------------------------------------------

    def list_views(self) -> list[ViewInfo]:
        """The views the caller may read some field of, for its purpose."""
        try:
            out = []
            for fi in self._flight.list_flights(options=self._options(False)):
                md = json.loads(fi.app_metadata or b"{}") if hasattr(fi, "app_metadata") else {}
                out.append(
                    ViewInfo(
                        name=fi.descriptor.path[0].decode(),
                        schema=fi.schema,
                        description=md.get("description", ""),
                        denied_features=tuple(md.get("denied_features", ())),
                    )
                )
            return out
        except (flight.FlightError, pa.ArrowException) as e:
            raise errors.from_flight(e) from None

    def schema(self, view: str, features: Optional[Sequence[str]] = None) -> pa.Schema:
        """The schema ``read_view(view, features)`` answers this caller."""
        desc = flight.FlightDescriptor.for_command(_command(view=view, features=list(features or [])))
        try:
            return self._flight.get_flight_info(desc, options=self._options()).schema
        except (flight.FlightError, pa.ArrowException) as e:
            raise errors.from_flight(e) from None

    def read_view(
        self,
        view: str,
        features: Optional[Sequence[str]] = None,
        *,
        start: Optional[TimeLike] = None,
        end: Optional[TimeLike] = None,
        as_of: Optional[TimeLike] = None,
        created_cutoff: Optional[TimeLike] = None,
        batch_rows: Optional[int] = None,
        strict: Optional[bool] = None,
    ) -> ViewReader:
        """Streams a view: every row, rows with ``start <= event time < end``,
        or (``as_of``) the latest row of each entity at that time within
        the view's TTL. ``features`` picks fields (default: every field the
        caller may read). ``created_cutoff`` ignores rows written after it.

        Denied fields are left out of the schema (or, strict, the call
        raises PermissionDenied naming them).
        """
        cmd = _command(
            view=view,
            features=list(features or []),
            start_time=_time("start", start),
            end_time=_time("end", end),
            as_of=_time("as_of", as_of),
            created_cutoff=_time("created_cutoff", created_cutoff),
            batch_rows=batch_rows,
        )
        try:
            reader = self._flight.do_get(flight.Ticket(cmd), options=self._options(strict))
        except (flight.FlightError, pa.ArrowException) as e:
            raise errors.from_flight(e) from None
        return ViewReader(reader)

    def historical_features(
        self,
        labels: Any,
        features: Sequence[str],
        *,
        timestamp_column: str = "event_timestamp",
        created_cutoff: Optional[TimeLike] = None,
        full_feature_names: bool = False,
        strict: Optional[bool] = None,
    ) -> ViewReader:
        """The point-in-time join that builds a training set.

        ``labels`` (a pandas or Polars DataFrame, or a pyarrow Table) has
        the entity key column of each view and ``timestamp_column``; every
        column passes through. For each ``"view:field"`` (or ``"view:*"``)
        in ``features`` a column holds the value of the latest row of the
        view at or before the label's timestamp, within the view's TTL, or
        null: no value from the label's future leaks in. Rows come back in
        input order.
        """
        table = _to_table(labels)
        cmd = _command(
            join=list(features),
            timestamp_column=timestamp_column if timestamp_column != "event_timestamp" else None,
            created_cutoff=_time("created_cutoff", created_cutoff),
            full_feature_names=full_feature_names,
        )
        try:
            writer, reader = self._flight.do_exchange(
                flight.FlightDescriptor.for_command(cmd), options=self._options(strict)
            )
            writer.begin(table.schema)
            for batch in table.to_batches(max_chunksize=JOIN_BATCH_ROWS):
                writer.write_batch(batch)
            writer.done_writing()
        except (flight.FlightError, pa.ArrowException) as e:
            raise errors.from_flight(e) from None
        return ViewReader(reader, keepalive=writer)

    # Writes ----------------------------------------------------------

    def ingest(
        self, table: Any, view: Optional[str] = None, *, validate_only: bool = False, batch_rows: int = INGEST_BATCH_ROWS
    ) -> IngestResult:
        """Writes a table to a view, one atomic commit per batch of rows.

        ``table`` (pyarrow, pandas or Polars) has the entity key column,
        ``event_timestamp`` and feature columns named as the view's
        fields. ``view`` defaults to the table's ``featurevault.view``
        schema metadata (a table read from the server has it). The server
        checks the schema and every row; a refused row raises
        InvalidArgument naming it, and nothing from that batch on is
        written.
        """
        t = _to_table(table)
        if view is None:
            md = t.schema.metadata or {}
            view = md.get(b"featurevault.view", b"").decode() or None
        if not view:
            raise ValueError("name the view: ingest(table, view=...)")
        desc = flight.FlightDescriptor.for_command(_command(ingest=view, validate_only=validate_only))
        try:
            writer, meta = self._flight.do_put(desc, t.schema, options=self._options())
            try:
                for batch in t.to_batches(max_chunksize=batch_rows):
                    writer.write_batch(batch)
                writer.done_writing()
                buf = meta.read()
            finally:
                writer.close()
        except (flight.FlightError, pa.ArrowException) as e:
            raise errors.from_flight(e) from None
        res = json.loads(buf.to_pybytes()) if buf is not None else {}
        return IngestResult(
            rows_checked=int(res.get("rowsChecked", 0)),
            rows_written=int(res.get("rowsWritten", 0)),
            values_written=int(res.get("valuesWritten", 0)),
            batches_written=int(res.get("batchesWritten", 0)),
        )

    # Online lookups --------------------------------------------------

    def get_online(self, view: str, entities: Iterable[str], features: Optional[Sequence[str]] = None) -> list[OnlineRow]:
        """The latest values of a few entities (GetOnlineFeatures over
        Connect with JSON): one OnlineRow per entity key, in order."""
        body = json.dumps({"view": view, "entityKeys": list(entities), "features": list(features or [])}).encode()
        req = urllib.request.Request(
            self.url + "/featurevault.v1.FeatureService/GetOnlineFeatures",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **dict(self._headers())},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise errors.from_connect(e.code, e.read()) from None
        except urllib.error.URLError as e:
            raise errors.Unavailable(f"cannot reach {self.url}: {e.reason}") from None
        names = doc.get("features", [])
        rows = []
        for r in doc.get("rows", []):
            vals = r.get("values", [])
            sts = r.get("statuses", [])
            et = r.get("eventTime")
            rows.append(
                OnlineRow(
                    entity_key=r.get("entityKey", ""),
                    event_time=_parse_time(et) if et else None,
                    values={n: _value(vals[i]) if i < len(vals) else None for i, n in enumerate(names)},
                    statuses={n: (sts[i] if i < len(sts) else "").removeprefix("FIELD_STATUS_") for i, n in enumerate(names)},
                )
            )
        return rows


def _parse_time(s: str) -> _dt.datetime:
    s = s.replace("Z", "+00:00")
    if "." in s:  # Python before 3.11 parses at most microseconds
        head, _, tail = s.partition(".")
        frac, sign, tz = tail.partition("+") if "+" in tail else tail.partition("-")
        s = f"{head}.{frac[:6]}{sign}{tz}"
    return _dt.datetime.fromisoformat(s)


def _value(v: Mapping[str, Any]) -> Any:
    """A Python value from the JSON of a featurevault.v1.Value."""
    if not v:
        return None
    k, x = next(iter(v.items()))
    if k == "int64Value":
        return int(x)
    if k == "float64Value":
        return float(x)
    if k == "bytesValue":
        return base64.b64decode(x)
    if k == "timestampValue":
        return _parse_time(x)
    if k == "floatListValue":
        return [float(f) for f in x.get("values", [])]
    return x


def _to_table(data: Any) -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch, pandas or Polars frame."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    mod = type(data).__module__
    if mod.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if mod.startswith("polars"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise TypeError(f"expected a pyarrow Table, a pandas or a Polars DataFrame, not {type(data).__name__}")
