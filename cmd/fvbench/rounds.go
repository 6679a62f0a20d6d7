package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/featurevault/featurevault/internal/loadgen"
)

// RoundFigures are one round's figures of a single-operation phase, or the
// median of each over the rounds (Phase.Median).
type RoundFigures struct {
	P50           float64 `json:"p50_us"`
	P99           float64 `json:"p99_us"`
	Max           float64 `json:"max_us"`
	PerSecond     float64 `json:"per_second"`
	ServerUsPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	Errors        uint64  `json:"errors"`
}

// roundFigures summarises one round of a single-operation phase.
func roundFigures(res *loadgen.Result, cpu CPUUse) RoundFigures {
	if len(res.Ops) == 0 {
		return RoundFigures{}
	}
	o := res.Ops[0]
	return RoundFigures{P50: o.Latency.P50, P99: o.Latency.P99, Max: o.Latency.Max, PerSecond: o.PerSecond, ServerUsPerOp: cpu.ServerUsPerOp, Errors: o.Errors}
}

// medianFigures is the median of each figure over rounds (each figure on
// its own, so the median p99 and the median p50 may come from different
// rounds), and the errors of all rounds.
func medianFigures(rounds []RoundFigures) RoundFigures {
	med := func(f func(RoundFigures) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m := RoundFigures{
		P50:           med(func(r RoundFigures) float64 { return r.P50 }),
		P99:           med(func(r RoundFigures) float64 { return r.P99 }),
		Max:           med(func(r RoundFigures) float64 { return r.Max }),
		PerSecond:     med(func(r RoundFigures) float64 { return r.PerSecond }),
		ServerUsPerOp: med(func(r RoundFigures) float64 { return r.ServerUsPerOp }),
	}
	for _, r := range rounds {
		m.Errors += r.Errors
	}
	return m
}

// Memory is a process's resident set, from /proc/PID/status: in all, and
// split into anonymous memory (heap, stacks, caches) and file pages mapped
// into it (for Badger, its table files).
type Memory struct {
	RSS  int64 `json:"rss_bytes"`
	Anon int64 `json:"rss_anon_bytes"`
	File int64 `json:"rss_file_bytes"`
}

// procMemory reads pid's resident set.
func procMemory(pid int) (Memory, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, false
	}
	defer f.Close()
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), "\t")
		if dst := fields[k]; ok && dst != nil {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				*dst = kb << 10
			}
		}
	}
	return m, m.RSS > 0
}
