package rpc

import (
	"bytes"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// TestCodecMarshalsWhatProtoUnmarshalsBack encodes messages with every
// kind of value (NULL, each oneof case, a map, nested timestamps, unset
// fields) through the codec's generated marshalling and decodes them with
// proto.Unmarshal: each comes back equal, at proto.Size's length, appended
// after what the buffer held.
func TestCodecMarshalsWhatProtoUnmarshalsBack(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 12, 6, 1, 2, 3, 456789, time.UTC))
	values := []*fvv1.Value{
		{}, // NULL
		{Kind: &fvv1.Value_BoolValue{BoolValue: true}},
		{Kind: &fvv1.Value_Int64Value{Int64Value: -42}},
		{Kind: &fvv1.Value_Float64Value{Float64Value: 52000.5}},
		{Kind: &fvv1.Value_Float64Value{}}, // 0.0 in a oneof is still sent
		{Kind: &fvv1.Value_StringValue{StringValue: "é@example.com"}},
		{Kind: &fvv1.Value_BytesValue{BytesValue: []byte{0, 1, 255}}},
		{Kind: &fvv1.Value_TimestampValue{TimestampValue: at}},
		{Kind: &fvv1.Value_FloatListValue{FloatListValue: &fvv1.FloatList{Values: []float32{0.25, -1.5, 3}}}},
	}
	statuses := make([]fvv1.FieldStatus, len(values))
	for i := range statuses {
		statuses[i] = fvv1.FieldStatus(i % 4)
	}
	messages := []proto.Message{
		&fvv1.GetOnlineFeaturesResponse{
			Features: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"},
			Rows: []*fvv1.OnlineRow{
				{EntityKey: "c1", EventTime: at, Values: values, Statuses: statuses},
				{EntityKey: "absent"},
			},
		},
		&fvv1.GetOnlineFeaturesResponse{},
		&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{{EntityKey: "c1", EventTime: at, Values: map[string]*fvv1.Value{"x": values[3], "y": values[5], "z": values[0]}}}},
		at, // no generated marshalling: proto.Marshal
	}
	c := vtCodec{}
	for _, m := range messages {
		prefix := []byte("kept")
		out, err := c.MarshalAppend(bytes.Clone(prefix), m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !bytes.HasPrefix(out, prefix) || len(out)-len(prefix) != proto.Size(m) {
			t.Fatalf("%T: %d bytes after the prefix, want %d after %q", m, len(out)-len(prefix), proto.Size(m), prefix)
		}
		back := m.ProtoReflect().New().Interface()
		if err := c.Unmarshal(out[len(prefix):], back); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !proto.Equal(m, back) {
			t.Errorf("%T: decoded %v, want %v", m, back, m)
		}
	}
}

func TestCodecRefusesWhatIsNotAMessage(t *testing.T) {
	c := vtCodec{}
	if _, err := c.Marshal("text"); err == nil {
		t.Error("Marshal of a string succeeded")
	}
	if _, err := c.MarshalStable("text"); err == nil {
		t.Error("MarshalStable of a string succeeded")
	}
	var text string
	if err := c.Unmarshal(nil, &text); err == nil {
		t.Error("Unmarshal into a string succeeded")
	}
	if err := c.Unmarshal([]byte{0xff}, &fvv1.GetOnlineFeaturesResponse{}); err == nil {
		t.Error("Unmarshal of a truncated message succeeded")
	}
	var _ connect.Codec = c
}
