package flightsrv

import (
	"context"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/protobuf/encoding/protojson"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// ingestChunkBytes is the most Arrow IPC bytes put in one IngestArrow
// message: well under any request message limit a server may set, since
// one record batch may span several messages.
const ingestChunkBytes = 256 << 10

// DoPut authenticates the call, then ingests the client's record
// batches into a view (a CMD descriptor {"ingest": VIEW} or a PATH
// descriptor naming it), as IngestArrow does: the schema is checked
// against the view and the write policy before anything is written,
// every row is checked, and each record batch is one atomic commit;
// after the first batch with a refused row nothing more is written. On success one PutResult carries the
// IngestArrowResponse as JSON in its app_metadata (rows_written, ...); a
// refusal is an error whose message names every row to fix.
func (s *Server) DoPut(stream flight.FlightService_DoPutServer) error {
	ctx, h := s.call(stream.Context(), "DoPut")
	if err := s.rpc.Authenticate(ctx, h); err != nil {
		return s.toStatus("DoPut", err)
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return invalidArg("the DoPut stream is empty; send a descriptor and the record batches")
		}
		return err
	}
	c, err := descriptorCommand(first.FlightDescriptor, kindIngest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs := s.fs.IngestArrow(ctx)
	copyHeader(cs.RequestHeader(), h)
	view := c.Ingest
	var buf []byte
	send := func(fd *flight.FlightData) error {
		var ok bool
		if buf, ok = appendIPC(buf[:0], fd); !ok {
			return nil
		}
		for b := buf; len(b) > 0 || view != ""; {
			n := min(len(b), ingestChunkBytes)
			msg := &fvv1.IngestArrowRequest{View: view, ValidateOnly: c.ValidateOnly, ArrowIpc: b[:n]}
			view = ""
			b = b[n:]
			if err := cs.Send(msg); err != nil {
				return err
			}
		}
		return nil
	}
	sendErr := send(first)
	for sendErr == nil {
		fd, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			sendErr = cs.Send(&fvv1.IngestArrowRequest{ArrowIpc: endOfStream})
			break
		}
		if err != nil {
			cancel() // the client's stream broke: stop the ingest where it is
			_, _ = cs.CloseAndReceive()
			return err
		}
		sendErr = send(fd)
	}
	// A send fails when the server answered early (a refusal): its
	// answer, from CloseAndReceive, says why.
	res, err := cs.CloseAndReceive()
	if err != nil {
		return s.toStatus("DoPut", err)
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return s.toStatus("DoPut", sendErr)
	}
	md, err := protojson.Marshal(res.Msg)
	if err != nil {
		return s.toStatus("DoPut", err)
	}
	return stream.Send(&flight.PutResult{AppMetadata: md})
}
