// Reads a FeatureVault view as Arrow from Node.js.
//
// FeatureService.ReadBatches is a server stream whose messages each carry
// one message of an Arrow IPC stream (schema, record batches, end marker);
// their bytes, concatenated, are a plain IPC stream. apache-arrow's
// RecordBatchReader reads it straight from the Connect stream, batch by
// batch, so memory stays flat however large the view.
//
// Usage:
//   node read.mjs --server http://127.0.0.1:8433 --view customer_profile \
//     [--features email,age] [--as-of 2026-11-01T00:00:00Z] \
//     [--token TOKEN] [--purpose training] [--rows]
//
// It prints a JSON summary (columns, row count, per-column non-null count
// and the sum of each float column); with --rows it prints every row as a JSON line instead,
// with int64 and timestamps as decimal strings (nanoseconds for
// timestamps), bytes as base64 and lists as arrays.

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RecordBatchReader, Type } from "apache-arrow";
import { FeatureService } from "./gen/featurevault/v1/feature_service_pb.js";

function parseArgs(argv) {
  const args = { server: process.env.FEATUREVAULT_SERVER ?? "http://127.0.0.1:8433", rows: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (name === "rows") {
      args.rows = true;
    } else {
      args[name] = argv[++i];
    }
  }
  if (!args.view) {
    throw new Error("--view is required: node read.mjs --view VIEW [--server URL]");
  }
  args.token ??= process.env.FEATUREVAULT_TOKEN;
  args.purpose ??= process.env.FEATUREVAULT_PURPOSE;
  return args;
}

// headers sets the bearer token and the purpose of the request.
function headers(args) {
  return (next) => async (req) => {
    if (args.token) req.header.set("Authorization", `Bearer ${args.token}`);
    if (args.purpose) req.header.set("Featurevault-Purpose", args.purpose);
    return next(req);
  };
}

// rawTimestamp returns value i of a timestamp vector as stored: apache-arrow's
// get() turns timestamps into milliseconds, which would drop nanoseconds.
function rawTimestamp(vector, i) {
  for (const data of vector.data) {
    if (i < data.length) return data.values[data.offset + i];
    i -= data.length;
  }
  return undefined;
}

// cell turns value i of a column into JSON-safe form.
function cell(vector, i) {
  const value = vector.get(i);
  if (value === null || value === undefined) return null;
  switch (vector.type.typeId) {
    case Type.Int: // int64 arrives as a BigInt
      return typeof value === "bigint" ? value.toString() : value;
    case Type.Timestamp: // nanoseconds, as a decimal string
      return rawTimestamp(vector, i).toString();
    case Type.Binary:
      return Buffer.from(value).toString("base64");
    case Type.List:
      return Array.from(value.toArray());
    default:
      return value;
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const transport = createConnectTransport({
    baseUrl: args.server,
    httpVersion: "1.1",
    interceptors: [headers(args)],
  });
  const client = createClient(FeatureService, transport);
  const request = { view: args.view, features: args.features ? args.features.split(",") : [] };
  if (args["as-of"]) request.asOf = timestampFromDate(new Date(args["as-of"]));

  let denied = [];
  async function* frames() {
    for await (const res of client.readBatches(request)) {
      if (res.deniedFeatures.length > 0) denied = res.deniedFeatures;
      yield res.arrowIpc;
    }
  }
  const reader = await RecordBatchReader.from(frames());
  await reader.open();
  const fields = reader.schema.fields;
  const summary = {
    columns: fields.map((f) => `${f.name}:${f.type}`),
    rows: 0,
    nonNull: Object.fromEntries(fields.map((f) => [f.name, 0])),
    sum: {},
  };
  for await (const batch of reader) {
    summary.rows += batch.numRows;
    for (const f of fields) {
      const col = batch.getChild(f.name);
      for (let i = 0; i < batch.numRows; i++) {
        const v = col.get(i);
        if (args.rows) continue;
        if (v === null) continue;
        summary.nonNull[f.name]++;
        if (f.type.typeId === Type.Float) summary.sum[f.name] = (summary.sum[f.name] ?? 0) + v;
      }
    }
    if (args.rows) {
      for (let i = 0; i < batch.numRows; i++) {
        const row = {};
        for (const f of fields) row[f.name] = cell(batch.getChild(f.name), i);
        process.stdout.write(JSON.stringify(row) + "\n");
      }
    }
  }
  if (!args.rows) {
    summary.denied = denied;
    process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  }
}

main().catch((err) => {
  console.error(`read.mjs: ${err.message}`);
  process.exit(1);
});
