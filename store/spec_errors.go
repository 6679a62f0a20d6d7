package store

import (
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlError turns a YAML decoding error into one that speaks of spec
// elements and keys rather than Go types.
func yamlError(err error) error {
	te, ok := err.(*yaml.TypeError)
	if !ok {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return errorf(KindInvalid, "spec is not valid YAML: %s; check the indentation, colons and brackets on that line", msg)
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		msgs = append(msgs, yamlTypeMessage(m))
	}
	return errorf(KindInvalid, "spec %s", strings.Join(msgs, "; "))
}

var (
	reUnknownKey = regexp.MustCompile(`^line (\d+): field (.*) not found in type store\.(\w+)$`)
	reCannot     = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// yamlElements names, by Go type, the spec element a YAML mapping is decoded
// into, and the keys it takes.
var yamlElements = map[string]struct {
	what string
	typ  reflect.Type
}{
	"specYAML":   {"the top level of the spec", reflect.TypeFor[specYAML]()},
	"entityYAML": {"an entity", reflect.TypeFor[entityYAML]()},
	"viewYAML":   {"a feature view", reflect.TypeFor[viewYAML]()},
	"fieldYAML":  {"a field", reflect.TypeFor[fieldYAML]()},
}

func yamlTypeMessage(m string) string {
	if g := reUnknownKey.FindStringSubmatch(m); g != nil {
		el, ok := yamlElements[g[3]]
		if !ok {
			return "line " + g[1] + ": unknown key " + g[2]
		}
		return "line " + g[1] + ": unknown key " + quoteName(g[2]) + " in " + el.what +
			"; the keys are " + strings.Join(yamlKeys(el.typ), ", ")
	}
	if g := reCannot.FindStringSubmatch(m); g != nil {
		found := map[string]string{
			"seq": "a list", "map": "a mapping", "str": "text", "int": "a number",
			"float": "a number", "bool": "true or false", "null": "nothing", "timestamp": "a timestamp",
		}[g[2]]
		if found == "" {
			found = "a value"
		}
		if g[3] != "" {
			found += " " + quoteName(g[3])
		}
		return "line " + g[1] + ": found " + found + " where " + yamlWants(g[4]) + " belongs"
	}
	return m
}

// yamlWants describes the Go type a YAML value was to be decoded into.
func yamlWants(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string":
		return "a single value"
	case goType == "float64":
		return "a number"
	case goType == "int":
		return "a whole number"
	case goType == "bool":
		return "true or false"
	}
	if el, ok := yamlElements[strings.TrimPrefix(goType, "store.")]; ok {
		return el.what + " (a mapping of keys to values)"
	}
	return "another kind of value"
}

// yamlKeys lists the YAML keys of a struct type, from its tags.
func yamlKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		keys = append(keys, name)
	}
	return keys
}
