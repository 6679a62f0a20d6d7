package flightsrv

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
)

// An Arrow IPC stream message is a continuation marker (0xFFFFFFFF), the
// length of its metadata, the metadata (a flatbuffer, padded to 8 bytes)
// and the body. A FlightData carries the same message split in two:
// data_header is the metadata, data_body the body. The FeatureService
// streams carry one IPC message per frame, so converting between the two
// is slicing and prefixing, with no decoding or copying of the values.

const continuation = 0xFFFFFFFF

// toFlightData splits one IPC message into a FlightData. It reports false
// for the end-of-stream marker, which a Flight stream does not carry (its
// end is the end of the call).
func toFlightData(msg []byte) (*flight.FlightData, bool, error) {
	if len(msg) < 8 {
		return nil, false, fmt.Errorf("flightsrv: IPC message of %d bytes is too short", len(msg))
	}
	off := 4
	n := binary.LittleEndian.Uint32(msg)
	if n == continuation {
		n = binary.LittleEndian.Uint32(msg[4:])
		off = 8
	}
	if n == 0 {
		return nil, false, nil
	}
	if uint64(off)+uint64(n) > uint64(len(msg)) {
		return nil, false, fmt.Errorf("flightsrv: IPC message metadata of %d bytes overruns its %d-byte frame", n, len(msg))
	}
	return &flight.FlightData{DataHeader: msg[off : off+int(n)], DataBody: msg[off+int(n):]}, true, nil
}

var zeros [8]byte

// appendIPC appends the IPC encoding of a FlightData's message to dst: the
// bytes an Arrow IPC stream reader expects. It reports false for a
// FlightData without a message (only app_metadata or a descriptor).
func appendIPC(dst []byte, fd *flight.FlightData) ([]byte, bool) {
	if len(fd.DataHeader) == 0 {
		return dst, false
	}
	pad := (8 - len(fd.DataHeader)%8) % 8
	dst = binary.LittleEndian.AppendUint32(dst, continuation)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(fd.DataHeader)+pad)) // #nosec G115 -- bounded by the gRPC message limit
	dst = append(dst, fd.DataHeader...)
	dst = append(dst, zeros[:pad]...)
	return append(dst, fd.DataBody...), true
}

// endOfStream is the IPC end-of-stream marker.
var endOfStream = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
