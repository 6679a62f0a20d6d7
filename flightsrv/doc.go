// Package flightsrv serves FeatureVault's training reads and bulk
// writes over Arrow Flight (arrow.flight.protocol.FlightService), the
// protocol pyarrow.flight, DuckDB, Polars and Spark connectors speak.
//
// It is a gateway, not a second server: every Flight call becomes a call
// of the FeatureService handlers of package rpc, in process, with the
// caller's bearer token (the `authorization` call header), purpose
// (`featurevault-purpose`) and strict mode (`featurevault-strict`). The
// same code therefore authenticates, rate-limits, counts and cuts
// streams, checks the purpose against the principal's attributes,
// decides every column, refuses in strict mode and appends the audit
// records, whichever protocol a client speaks; only the framing differs.
//
//	ListFlights    the views the caller may read, each with its schema (denied columns omitted)
//	GetFlightInfo  a view read's (or a join's) schema and ticket, as policy allows the caller
//	GetSchema      the same schema alone
//	DoGet          a view read: all rows, a time range, or the latest row per entity as of a time (ReadBatches);
//	               or a join whose small label table is in the ticket (GetHistoricalFeatures)
//	DoExchange     a point-in-time join: the client writes the label table, the server answers the joined table (GetHistoricalFeatures)
//	DoPut          bulk ingest, atomic per record batch (IngestArrow)
//
// Tickets and CMD descriptors hold a JSON command (see Command); a
// malformed one is refused with InvalidArgument saying what to fix.
// Errors keep the Connect API's code and message (Connect codes are gRPC
// codes), so a PermissionDenied names the column to ask for, never a
// value.
//
// The service is mounted on the FeatureVault port (rpc.Server.Mount at
// Prefix): grpc.Server implements http.Handler, and the server already
// speaks HTTP/2 (h2c on loopback, TLS with ALPN otherwise). One port
// means one TLS configuration, one loopback-only check, one graceful
// shutdown, and one address for clients: grpc://127.0.0.1:8433.
// Client certificates (--tls-client-ca) gate the port's TLS handshake,
// so they apply to Flight clients too; the bearer token still names the
// principal.
package flightsrv
