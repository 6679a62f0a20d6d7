package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// countBar is a one-line progress bar for admin jobs counted in items
// (subjects erased, keys re-wrapped), with their rate:
//
//	rewrap  [==========>         ]  45%  4,500/10,000 keys  12.3k keys/s  ETA 4s
//
// Like progress, it draws only on a terminal (or with --progress always),
// at most ten times a second.
type countBar struct {
	w           io.Writer
	label, unit string
	total       int64
	start, last time.Time
	now         func() time.Time
	enabled     bool
	drawn       bool
}

func newCountBar(w io.Writer, mode, label, unit string, total int64) (*countBar, error) {
	enabled := false
	switch mode {
	case "always":
		enabled = true
	case "never":
	case "auto", "":
		enabled = isTerminal(w)
	default:
		return nil, fmt.Errorf("--progress %q: use %s", mode, strings.Join(progressModes, ", "))
	}
	return &countBar{w: w, label: label, unit: unit, total: total, now: time.Now, enabled: enabled}, nil
}

// set reports done items of total (total <= 0 keeps the previous total).
func (p *countBar) set(done, total int64) {
	if total > 0 {
		p.total = total
	}
	if !p.enabled {
		return
	}
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(done, now.Sub(p.start)))
	p.drawn = true
}

// finish draws the final state and ends the line.
func (p *countBar) finish(done int64) {
	if !p.enabled {
		return
	}
	p.drawn = false
	p.set(done, 0)
	fmt.Fprintln(p.w)
}

func (p *countBar) line(done int64, elapsed time.Duration) string {
	const width = 24
	var b strings.Builder
	frac := 1.0
	if p.total > 0 {
		frac = min(1, float64(done)/float64(p.total))
	}
	fill := int(frac * width)
	fmt.Fprintf(&b, "%s  [%s", p.label, strings.Repeat("=", fill))
	if fill < width {
		b.WriteString(">" + strings.Repeat(" ", width-fill-1))
	}
	fmt.Fprintf(&b, "] %3.0f%%  %s/%s %s", 100*frac, group(done), group(p.total), p.unit)
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, "  %s %s/s", short(float64(done)/s), p.unit)
		if done > 0 && done < p.total {
			fmt.Fprintf(&b, "  ETA %s", time.Duration(float64(elapsed)*float64(p.total-done)/float64(done)).Round(time.Second))
		}
	}
	return b.String()
}
