package main

import (
	"strings"
	"testing"
)

func TestByteSizeParsesUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"268435456", 256 << 20},
		{"256MiB", 256 << 20},
		{"1GiB", 1 << 30},
		{"64 MiB", 64 << 20},
		{"512KiB", 512 << 10},
		{"300MB", 300e6},
		{"2GB", 2e9},
		{"1000B", 1000},
	}
	for _, tt := range tests {
		var b byteSize
		if err := b.Set(tt.in); err != nil {
			t.Errorf("Set(%q): %v", tt.in, err)
			continue
		}
		if int64(b) != tt.want {
			t.Errorf("Set(%q) = %d, want %d", tt.in, int64(b), tt.want)
		}
	}
}

func TestByteSizeRefusesWhatIsNotASize(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "lots", "-1MiB", "1.5GiB", "256 megabytes", "9999999999GiB"} {
		var b byteSize
		err := b.Set(in)
		if err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, int64(b))
			continue
		}
		if !strings.Contains(err.Error(), "256MiB") {
			t.Errorf("Set(%q) error %q does not show an example", in, err)
		}
	}
}

func TestByteSizeStringUsesTheLargestUnit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   byteSize
		want string
	}{{256 << 20, "256MiB"}, {1 << 30, "1GiB"}, {1536 << 10, "1536KiB"}, {1000, "1000"}, {0, "0"}} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("byteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestServeRefusesABadMemoryBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"below the minimum", []string{"--memory-budget", "32MiB"}, "--memory-budget 32MiB is too small: give at least 64MiB"},
		{"not a size", []string{"--memory-budget", "lots"}, `"lots" is not a size`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if stderr := serveRefused(t, tt.args...); !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}
