package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// envConfig names serve's config file when --config is not given.
const envConfig = "FEATUREVAULT_CONFIG"

// maxConfigBytes bounds a config file; a real one is a few hundred bytes.
const maxConfigBytes = 1 << 20

// addConfigFlag defines serve's --config flag.
func addConfigFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "config", "", "YAML file of serve's flags: each key is a flag name (listen: 0.0.0.0:8433), a list for a repeatable flag; flags given on the command line win (env "+envConfig+")")
}

// applyConfigFile sets the flags of cmd that the command line left
// unset from the YAML file at path (none when path is empty). The file
// is a mapping whose keys are the command's own flag names and whose
// values are what the flag takes: a scalar, or for a repeatable flag
// (such as cors-origin) a scalar or a list. Every flag of the command is
// covered, including ones added later, since the keys are looked up in
// the command's flag set.
//
// An unknown key is refused with the name of the closest flag, a value
// the flag cannot take is refused naming the key and its line, and the
// file is applied only if it has no error at all: no flag is changed by
// a file that is refused.
func applyConfigFile(cmd *cobra.Command, path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path) // #nosec G304 -- the operator names the config file (--config)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return fmt.Errorf("--config %s is %d bytes; a config file of flags is at most %d", path, len(data), maxConfigBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s is not YAML: %w", path, err)
	}
	if len(doc.Content) == 0 || len(bytes.TrimSpace(data)) == 0 {
		return nil // an empty file sets nothing
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s line %d: want a mapping of flag names to values, such as listen: 127.0.0.1:8433", path, top.Line)
	}
	type setting struct {
		flag   *pflag.Flag
		values []string
	}
	var settings []setting
	seen := map[string]bool{}
	local := cmd.LocalFlags()
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		at := fmt.Sprintf("config %s line %d", path, k.Line)
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: a key must be a flag name", at)
		}
		name := k.Value
		if seen[name] {
			return fmt.Errorf("%s: key %q appears twice; keep one", at, name)
		}
		seen[name] = true
		f := local.Lookup(name)
		switch {
		case name == "config":
			return fmt.Errorf("%s: key %q: a config file cannot name another config file", at, name)
		case f == nil || name == "help":
			return fmt.Errorf("%s: unknown key %q; did you mean %q? (the keys are the flags of featurevault %s)", at, name, closestFlag(local, name), cmd.Name())
		}
		values, err := configValues(f, v)
		if err != nil {
			return fmt.Errorf("%s: key %q: %w", at, name, err)
		}
		if f.Changed { // given on the command line: it wins
			continue
		}
		// Check every value on a scratch copy of the flag first, so a bad
		// file changes no flag.
		for _, s := range values {
			if err := checkFlagValue(f, s); err != nil {
				return fmt.Errorf("%s: key %q: %q is not %s", at, name, s, flagTypeWords(f.Value.Type()))
			}
		}
		settings = append(settings, setting{f, values})
	}
	for _, s := range settings {
		for _, v := range s.values {
			if err := cmd.Flags().Set(s.flag.Name, v); err != nil {
				return fmt.Errorf("config %s: key %q: %w", path, s.flag.Name, err)
			}
		}
	}
	return nil
}

// configValues returns the values of a key for flag f: one for a scalar,
// each element's for a list (repeatable flags only).
func configValues(f *pflag.Flag, v *yaml.Node) ([]string, error) {
	repeatable := strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array")
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, errors.New("no value; give one, or leave the key out for the default")
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		if !repeatable {
			return nil, fmt.Errorf("takes one value (%s), not a list", flagTypeWords(f.Value.Type()))
		}
		var out []string
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: list items must be plain values", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("takes %s, not a mapping", flagTypeWords(f.Value.Type()))
}

// checkFlagValue reports whether s parses as a value of f, without
// changing f: it parses into a fresh flag set holding a flag of f's type.
func checkFlagValue(f *pflag.Flag, s string) error {
	scratch := pflag.NewFlagSet("check", pflag.ContinueOnError)
	switch f.Value.Type() {
	case "bool":
		scratch.Bool("v", false, "")
	case "int":
		scratch.Int("v", 0, "")
	case "int64":
		scratch.Int64("v", 0, "")
	case "uint":
		scratch.Uint("v", 0, "")
	case "float64":
		scratch.Float64("v", 0, "")
	case "duration":
		scratch.Duration("v", 0, "")
	default:
		return nil // strings and types without a cheap copy: Set checks them
	}
	return scratch.Set("v", s)
}

// flagTypeWords says what a flag of pflag type typ takes, for errors.
func flagTypeWords(typ string) string {
	switch typ {
	case "bool":
		return "a boolean (true or false)"
	case "int", "int64", "uint":
		return "a whole number"
	case "float64":
		return "a number"
	case "duration":
		return "a duration such as 30s, 15m or 720h"
	case "stringArray", "stringSlice":
		return "a string or a list of strings"
	}
	return "a " + typ
}

// closestFlag returns the name of the flag in fs nearest to name by edit
// distance, for "did you mean".
func closestFlag(fs *pflag.FlagSet, name string) string {
	best, bestD := "", -1
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "config" {
			return
		}
		if d := editDistance(name, f.Name); bestD < 0 || d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
