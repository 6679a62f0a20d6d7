package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line progress bar for long transfers (ingest,
// export) on a terminal:
//
//	ingest  [=========>          ]  45%  450,000/1,000,000 rows  1.2M values/s  ETA 4s
//
// When the total is unknown it shows a moving marker instead of a
// percentage. It redraws at most ten times a second, and only when w is a
// terminal (or mode is "always"); otherwise it prints nothing until finish,
// so logs and pipes get one summary line from the command instead.
type progress struct {
	w       io.Writer
	label   string
	total   int64 // rows; <= 0 when unknown
	width   int   // columns in the bar
	perRow  int64 // values per row, for the values/s figure
	start   time.Time
	last    time.Time
	now     func() time.Time
	enabled bool
	drawn   bool
}

// progressModes are the values of --progress.
var progressModes = []string{"auto", "always", "never"}

// newProgress returns a bar for a transfer of total rows (<= 0 if
// unknown), perRow values each, drawn on w according to mode.
func newProgress(w io.Writer, mode, label string, total, perRow int64) (*progress, error) {
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
	return &progress{w: w, label: label, total: total, width: 24, perRow: perRow, now: time.Now, enabled: enabled}, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// set reports that done rows are through.
func (p *progress) set(done int64) {
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
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(done, now))
	p.drawn = true
}

// finish draws the final state and ends the line.
func (p *progress) finish(done int64) {
	if !p.enabled {
		return
	}
	p.drawn = false
	p.set(done)
	fmt.Fprintln(p.w)
}

// line renders the bar for done rows at time now.
func (p *progress) line(done int64, now time.Time) string {
	elapsed := now.Sub(p.start)
	var b strings.Builder
	b.WriteString(p.label)
	b.WriteString("  [")
	if p.total > 0 {
		frac := min(1, float64(done)/float64(p.total))
		fill := int(frac * float64(p.width))
		b.WriteString(strings.Repeat("=", fill))
		if fill < p.width {
			b.WriteString(">")
			b.WriteString(strings.Repeat(" ", p.width-fill-1))
		}
		fmt.Fprintf(&b, "] %3.0f%%  %s/%s rows", 100*frac, group(done), group(p.total))
	} else {
		span := p.width - 3 // positions of the three-column marker
		pos := int(elapsed/(150*time.Millisecond)) % (2 * span)
		if pos > span {
			pos = 2*span - pos
		}
		b.WriteString(strings.Repeat(" ", pos) + "<=>" + strings.Repeat(" ", span-pos))
		fmt.Fprintf(&b, "]  %s rows", group(done))
	}
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, "  %s values/s", short(float64(done*p.perRow)/s))
		if p.total > 0 && done > 0 && done < p.total {
			eta := time.Duration(float64(elapsed) * float64(p.total-done) / float64(done))
			fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
		}
	}
	return b.String()
}

// group writes n with thousands separators: 1,234,567.
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + group(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// short writes a rate with a k or M suffix: 950, 12.3k, 1.2M.
func short(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.1fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
