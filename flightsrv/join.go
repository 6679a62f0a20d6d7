package flightsrv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// DoExchange answers a point-in-time join (a CMD descriptor with a join
// command) as GetHistoricalFeatures does. The client writes the label
// table (the entity key columns and the timestamp column, with any other
// columns it wants passed through) and closes its side; the server then
// streams back the joined table, one or more record batches per label
// batch, in input order.
//
// The server authenticates the call, then reads the whole label table
// before it answers, holding it as Arrow IPC (at most WithMaxLabelBytes,
// past which the call fails with ResourceExhausted), so that a client
// may write everything and then read — what pyarrow's do_exchange users
// do — without the two directions blocking each other. Labels are small beside the features
// they fetch: a million (key, timestamp) rows are some 20 MB. Each label
// batch is one GetHistoricalFeatures call (and its audit records), so a
// label batch must fit the server's --max-request-bytes; the Python SDK
// writes batches of 8,192 rows.
func (s *Server) DoExchange(stream flight.FlightService_DoExchangeServer) error {
	ctx, h := s.call(stream.Context(), "DoExchange")
	if err := s.rpc.Authenticate(ctx, h); err != nil {
		return s.toStatus("DoExchange", err)
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return invalidArg("the DoExchange stream is empty; send a join descriptor and the label table")
		}
		return err
	}
	c, err := descriptorCommand(first.FlightDescriptor, kindJoin)
	if err != nil {
		return err
	}
	schema, batches, err := s.readLabels(first, stream)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(batches) == 0 {
		batches = [][]byte{nil} // no label rows: still answer the schema
	}
	var outSchema []byte
	for _, b := range batches {
		req := connect.NewRequest(c.joinRequest())
		copyHeader(req.Header(), h)
		req.Msg.EntityRows = append(append(append(make([]byte, 0, len(schema)+len(b)+8), schema...), b...), endOfStream...)
		rs, err := s.fs.GetHistoricalFeatures(ctx, req)
		if err != nil {
			return s.toStatus("DoExchange", err)
		}
		err = s.relayJoin("DoExchange", rs, stream, &outSchema)
		_ = rs.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// readLabels reads the label table: its IPC schema message and each
// record batch's message.
func (s *Server) readLabels(first *flight.FlightData, stream flight.FlightService_DoExchangeServer) (schema []byte, batches [][]byte, err error) {
	var total int64
	for fd := first; ; {
		if msg, ok := appendIPC(nil, fd); ok {
			total += int64(len(msg))
			if total > s.cfg.maxLabelBytes {
				return nil, nil, status.Errorf(codes.ResourceExhausted, "the label table is larger than the %d bytes a join may send; split it into several joins", s.cfg.maxLabelBytes)
			}
			if schema == nil {
				schema = msg
			} else {
				batches = append(batches, msg)
			}
		}
		fd, err = stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if schema == nil {
		return nil, nil, invalidArg("the label table has no schema; write the entity key and timestamp columns (pyarrow: writer.begin(table.schema))")
	}
	return schema, batches, nil
}

// relayJoin sends one GetHistoricalFeatures answer to the client: the
// schema once (the first answer's), then the record batches.
func (s *Server) relayJoin(method string, rs *connect.ServerStreamForClient[fvv1.GetHistoricalFeaturesResponse], stream dataSender, outSchema *[]byte) error {
	firstMsg := true
	for rs.Receive() {
		m := rs.Msg()
		if firstMsg {
			firstMsg = false
			if *outSchema != nil {
				if !bytes.Equal(*outSchema, m.ArrowIpc) {
					return status.Error(codes.Aborted, "the joined columns changed during the join (a policy or view change); run the join again")
				}
				continue
			}
			*outSchema = bytes.Clone(m.ArrowIpc)
		}
		fd, ok, err := toFlightData(m.ArrowIpc)
		if err != nil {
			return s.toStatus(method, err)
		}
		if !ok {
			continue
		}
		if err := stream.Send(fd); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return s.toStatus(method, err)
	}
	return nil
}

// dataSender is the sending side of DoGet and DoExchange.
type dataSender interface {
	Send(*flight.FlightData) error
}

// doGetJoin answers a join whose label table is in its command.
func (s *Server) doGetJoin(ctx context.Context, h http.Header, c *Command, stream dataSender) error {
	rows, err := c.EntityRows.ipcStream(c.timestampColumn())
	if err != nil {
		return invalidArg("%v", err)
	}
	req := connect.NewRequest(c.joinRequest())
	copyHeader(req.Header(), h)
	req.Msg.EntityRows = rows
	rs, err := s.fs.GetHistoricalFeatures(ctx, req)
	if err != nil {
		return s.toStatus("DoGet", err)
	}
	defer rs.Close()
	var schema []byte
	return s.relayJoin("DoGet", rs, stream, &schema)
}

// joinSchema is the schema a join with entity_rows answers this caller:
// the label columns, then the allowed features, view by view in order of
// first mention (a view:* reference stands for every field the caller
// may read, in the view's order).
func (s *Server) joinSchema(ctx context.Context, h http.Header, c *Command) (*arrow.Schema, error) {
	rec, err := c.EntityRows.record(c.timestampColumn())
	if err != nil {
		return nil, invalidArg("%v", err)
	}
	fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
	rec.Release()
	var order []string
	fieldsOf := map[string][]string{}
	every := map[string]bool{}
	for _, ref := range c.Join {
		v, f, ok := strings.Cut(ref, ":")
		if !ok || v == "" || f == "" {
			return nil, invalidArg("feature %q is not a reference of the form view:field (or view:*); write it like customer_profile:income", ref)
		}
		if _, seen := fieldsOf[v]; !seen {
			order = append(order, v)
			fieldsOf[v] = nil
		}
		if f == "*" {
			every[v] = true
		} else if !slices.Contains(fieldsOf[v], f) {
			fieldsOf[v] = append(fieldsOf[v], f)
		}
	}
	for _, v := range order {
		feats := fieldsOf[v]
		if every[v] {
			feats = nil
		}
		views, err := s.rpc.ReadableViews(ctx, h, v, feats)
		if err != nil {
			return nil, s.toStatus("GetFlightInfo", err)
		}
		for _, f := range views[0].Schema.Fields()[2:] {
			if c.FullFeatureNames {
				f.Name = v + "__" + f.Name
			}
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil), nil
}
