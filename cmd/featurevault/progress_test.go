package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		total, done int64
		after       time.Duration
		want        string
	}{
		{1000, 0, 0, "ingest  [>                       ]   0%  0/1,000 rows"},
		{1000, 250, 2 * time.Second, "ingest  [======>                 ]  25%  250/1,000 rows  6.2k values/s  ETA 6s"},
		{1000, 1000, 4 * time.Second, "ingest  [========================] 100%  1,000/1,000 rows  12.5k values/s"},
		{0, 1_234_567, time.Second, "ingest  [      <=>               ]  1,234,567 rows  61.7M values/s"},
	}
	for _, tc := range tests {
		p, err := newProgress(&bytes.Buffer{}, "always", "ingest", tc.total, 50)
		if err != nil {
			t.Fatal(err)
		}
		p.start = t0
		if got := p.line(tc.done, t0.Add(tc.after)); got != tc.want {
			t.Errorf("line(%d of %d after %s)\n got %q\nwant %q", tc.done, tc.total, tc.after, got, tc.want)
		}
	}
}

func TestProgressDrawsOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	var quiet, loud bytes.Buffer
	for _, c := range []struct {
		w    *bytes.Buffer
		mode string
	}{{&quiet, "auto"}, {&loud, "always"}} {
		p, err := newProgress(c.w, c.mode, "export", 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		p.set(5)
		p.finish(10)
	}
	if quiet.Len() != 0 {
		t.Errorf("auto on a non-terminal drew %q", quiet.String())
	}
	if !strings.Contains(loud.String(), "100%") || !strings.HasSuffix(loud.String(), "\n") {
		t.Errorf("always drew %q; want a final 100%% line", loud.String())
	}
	if _, err := newProgress(&loud, "sometimes", "x", 0, 0); err == nil || !strings.Contains(err.Error(), "auto, always, never") {
		t.Errorf("bad mode: %v", err)
	}
}
