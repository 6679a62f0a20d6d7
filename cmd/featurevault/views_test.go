package main

import (
	"testing"
	"time"
)

func TestShortDurationDropsZeroUnits(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		24 * time.Hour:                 "24h",
		90 * time.Minute:               "1h30m",
		time.Hour + time.Second:        "1h0m1s",
		45 * time.Second:               "45s",
		720*time.Hour + 30*time.Minute: "720h30m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
