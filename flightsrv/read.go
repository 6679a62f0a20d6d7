package flightsrv

import (
	"context"
	"encoding/json"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/rpc"
)

// viewMetadata is the app_metadata of a view's FlightInfo (JSON).
type viewMetadata struct {
	Description    string   `json:"description,omitempty"`
	DeniedFeatures []string `json:"denied_features,omitempty"`
}

// flightInfo describes one view read for the caller: the schema it will
// get (denied columns left out) and one endpoint, on this server, whose
// ticket is the command.
func flightInfo(v rpc.ReadableView, desc *flight.FlightDescriptor, c *Command) *flight.FlightInfo {
	md, _ := json.Marshal(viewMetadata{Description: v.Description, DeniedFeatures: v.Denied})
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(v.Schema, memory.DefaultAllocator),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: c.ticket()}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
		AppMetadata:      md,
	}
}

// ListFlights lists the views the caller may read some column of, for
// the purpose its call states, each with a PATH descriptor (the view's
// name), the schema the caller would read and a ticket reading the whole
// view. The criteria are not used.
func (s *Server) ListFlights(_ *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	ctx, h := s.call(stream.Context(), "ListFlights")
	views, err := s.rpc.ReadableViews(ctx, h, "", nil)
	if err != nil {
		return s.toStatus("ListFlights", err)
	}
	for _, v := range views {
		desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{v.Name}}
		if err := stream.Send(flightInfo(v, desc, &Command{View: v.Name})); err != nil {
			return err
		}
	}
	return nil
}

// GetFlightInfo describes a view read (a CMD descriptor with a view
// command, or a PATH descriptor naming the view), or a join with its
// label table in the command, for the caller: the schema it would get
// and a ticket (the command) for DoGet.
func (s *Server) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	info, err := s.describe(ctx, "GetFlightInfo", desc)
	if err != nil {
		return nil, err
	}
	return info, nil
}

// GetSchema answers the schema GetFlightInfo would.
func (s *Server) GetSchema(ctx context.Context, desc *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	info, err := s.describe(ctx, "GetSchema", desc)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: info.Schema}, nil
}

func (s *Server) describe(ctx context.Context, method string, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	c, err := descriptorCommand(desc, kindRead)
	if err != nil {
		return nil, err
	}
	ctx, h := s.call(ctx, method)
	if len(c.Join) > 0 {
		schema, err := s.joinSchema(ctx, h, c)
		if err != nil {
			return nil, err
		}
		return flightInfo(rpc.ReadableView{Schema: schema}, desc, c), nil
	}
	views, err := s.rpc.ReadableViews(ctx, h, c.View, c.Features)
	if err != nil {
		return nil, s.toStatus(method, err)
	}
	return flightInfo(views[0], desc, c), nil
}

// DoGet streams a view read (the ticket's command) as ReadBatches does:
// the schema, then one FlightData per record batch as the server scans
// and decrypts it. The first record batch's app_metadata names the
// features policy withheld ({"denied_features": [...]}), if any. A join
// ticket with its label table (entity_rows) is answered as
// GetHistoricalFeatures answers it.
func (s *Server) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	c, err := parseCommand(t.GetTicket(), kindRead, "ticket")
	if err != nil {
		return err
	}
	ctx, h := s.call(stream.Context(), "DoGet")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(c.Join) > 0 {
		return s.doGetJoin(ctx, h, c, stream)
	}
	req := connect.NewRequest(c.readRequest())
	copyHeader(req.Header(), h)
	rs, err := s.fs.ReadBatches(ctx, req)
	if err != nil {
		return s.toStatus("DoGet", err)
	}
	defer rs.Close()
	var denied []byte
	for rs.Receive() {
		m := rs.Msg()
		if len(m.DeniedFeatures) > 0 {
			denied, _ = json.Marshal(viewMetadata{DeniedFeatures: m.DeniedFeatures})
		}
		fd, ok, err := toFlightData(m.ArrowIpc)
		if err != nil {
			return s.toStatus("DoGet", err)
		}
		if !ok {
			continue
		}
		if m.Rows > 0 && denied != nil {
			fd.AppMetadata, denied = denied, nil
		}
		if err := stream.Send(fd); err != nil {
			return err
		}
	}
	return s.toStatus("DoGet", rs.Err())
}

// copyHeader adds the header src to dst (both canonical http.Headers).
func copyHeader(dst, src map[string][]string) {
	for k, vs := range src {
		dst[k] = append(dst[k], vs...)
	}
}
