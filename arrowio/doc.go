// Package arrowio converts between FeatureVault's rows and Apache Arrow:
// the schema of a feature view, record batches built from decrypted store
// batches, rows decoded from Arrow, CSV and Parquet files, and the IPC
// stream framing the server and clients share.
//
// # The tabular form of a view
//
// A view reads and writes as a table with, in order:
//
//   - the entity's join key (e.g. customer_id): utf8 for string keys,
//     int64 for int64 keys; never null;
//   - event_timestamp: timestamp[ns, UTC]; never null;
//   - one nullable column per selected field, typed by Type.
//
// This is the table ReadBatches streams, export writes and ingest reads, so
// an export ingests back unchanged. Field columns carry the field's tags in
// their metadata (key "featurevault.tags", comma-separated), and the schema
// names the view and its schema version.
//
// # Security
//
// The Arrow data this package builds or reads holds plaintext feature
// values and raw entity keys: it exists only in memory, between the store
// (which decrypts) and the caller allowed to read it. Error messages name
// rows by position and columns by name, never a value or a key.
package arrowio
