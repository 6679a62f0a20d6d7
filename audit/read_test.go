package audit_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/google/go-cmp/cmp"
)

func TestRangeAndTail(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	recs := appendN(t, l, 10)
	tests := []struct {
		name    string
		read    func() ([]audit.Record, error)
		want    []audit.Record
		wantErr error
	}{
		{"range from start", func() ([]audit.Record, error) { return l.Range(t.Context(), 1, 3) }, recs[:3], nil},
		{"range from 0 means from 1", func() ([]audit.Record, error) { return l.Range(t.Context(), 0, 2) }, recs[:2], nil},
		{"range past head is clipped", func() ([]audit.Record, error) { return l.Range(t.Context(), 9, 100) }, recs[8:], nil},
		{"range beyond head is empty", func() ([]audit.Record, error) { return l.Range(t.Context(), 11, 5) }, nil, nil},
		{"range zero limit", func() ([]audit.Record, error) { return l.Range(t.Context(), 1, 0) }, nil, audit.ErrInvalidArgument},
		{"tail", func() ([]audit.Record, error) { return l.Tail(t.Context(), 3) }, recs[7:], nil},
		{"tail longer than log", func() ([]audit.Record, error) { return l.Tail(t.Context(), 50) }, recs, nil},
		{"tail zero", func() ([]audit.Record, error) { return l.Tail(t.Context(), 0) }, nil, audit.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExportWritesOneRecordPerLine(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	recs := appendN(t, l, 5)
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	var got []audit.Record
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a JSON record: %v", len(got)+1, err)
		}
		got = append(got, r)
	}
	// Hex digests decode to empty, non-nil slices where the original is nil.
	if diff := cmp.Diff(recs, got, cmp.Comparer(func(a, b audit.Digest) bool { return bytes.Equal(a, b) })); diff != "" {
		t.Errorf("exported records (-want +got):\n%s", diff)
	}
}

func TestExportStopsAtAMalformedRecord(t *testing.T) {
	t.Parallel()
	s := newMemStore(t)
	l := openLog(t, s, newMAC(t), testOptions())
	appendN(t, l, 3)
	apply(t, s, kv.Op{Key: audit.RecordKey(2), Value: []byte("garbage")})
	if err := l.Export(t.Context(), &bytes.Buffer{}); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("Export = %v, want ErrMalformed", err)
	}
	if _, err := l.Range(t.Context(), 1, 3); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("Range = %v, want ErrMalformed", err)
	}
}

// request is what a server handles: it carries values, raw keys and a token
// that must never reach the log.
type request struct {
	token      string
	principal  string
	view       string
	entityKeys []string
	values     map[string]string
	erase      bool
}

// recordFor builds the audit record of req the way the rpc layer does: names
// and counts from the request, subjects by blind index for erasures.
func recordFor(req request) audit.Record {
	r := audit.Record{
		Principal: req.principal, View: req.view, Entities: len(req.entityKeys),
		Purpose: "training", Env: "prod", Outcome: "ok", Action: "read",
		Procedure: "/featurevault.v1.FeatureService/GetOnlineFeatures",
	}
	for col := range req.values {
		r.Allowed = append(r.Allowed, col)
	}
	if req.erase {
		r.Action, r.Procedure = "erase", "/featurevault.v1.AdminService/EraseSubject"
		for _, k := range req.entityKeys {
			sum := sha256.Sum256([]byte("blind-index-key|customer|" + k)) // stands in for keys.BlindIndex
			r.Subjects = append(r.Subjects, hex.EncodeToString(sum[:16]))
		}
	}
	return r
}

func TestExportCarriesNoValuesKeysOrTokens(t *testing.T) {
	t.Parallel()
	const (
		valueMarker = "VALUE-MARKER-93.5"
		keyMarker   = "KEY-MARKER-c42"
		tokenMarker = "fvt_TOKEN-MARKER"
	)
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	reqs := []request{
		{token: tokenMarker, principal: "alice", view: "customer_profile", entityKeys: []string{keyMarker, "c-7"}, values: map[string]string{"ltv": valueMarker}},
		{token: tokenMarker, principal: "dpo", view: "customer_profile", entityKeys: []string{keyMarker}, erase: true},
	}
	for _, req := range reqs {
		if _, err := l.Append(t.Context(), recordFor(req)); err != nil {
			t.Fatal(err)
		}
	}
	// A raw key put where a blind index belongs is refused, not stored.
	bad := recordFor(reqs[1])
	bad.Subjects = []string{keyMarker}
	if _, err := l.Append(t.Context(), bad); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Errorf("Append with a raw key in Subjects = %v, want ErrInvalidRecord", err)
	}
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{valueMarker, keyMarker, tokenMarker} {
		if strings.Contains(buf.String(), marker) {
			t.Errorf("export contains %q:\n%s", marker, buf.String())
		}
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Errorf("export has %d lines, want 2", got)
	}
}

// TestRecordHasNoFieldForValues pins Record's fields. A new field must be
// reviewed against the contract on Record (no values, raw keys, tokens)
// before it is added here.
func TestRecordHasNoFieldForValues(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"Seq": "uint64", "Time": "time.Time", "Principal": "string", "Action": "string",
		"Procedure": "string", "View": "string", "Allowed": "[]string", "Denied": "[]string",
		"Entities": "int", "Subjects": "[]string", "Purpose": "string", "Env": "string",
		"Rule": "string", "Epsilon": "float64", "Delta": "float64", "Outcome": "string",
		"Detail": "string", "PrevHash": "audit.Digest", "Hash": "audit.Digest",
		"Auth": "string", // how the caller authenticated (method and identity), never the credential
	}
	got := map[string]string{}
	rt := reflect.TypeFor[audit.Record]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		got[f.Name] = f.Type.String()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Record fields changed (-want +got); check the new field cannot carry a value, raw key or token:\n%s", diff)
	}
}
