package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// attrSyntax is the --attr syntax, for messages.
const attrSyntax = "KEY=VALUE[|VALUE...][,KEY=VALUE...], e.g. purpose=training|analytics,env=prod"

// parseAttrs reads --attr values: a comma separates attributes, "|"
// separates the values of one attribute and "=" separates a key from its
// values. The flag may repeat; a key may appear only once in all of them.
//
// parseAttrs checks only this syntax, so that no input is silently read
// as something else (an empty value, a key given twice, a stray "=");
// the server checks that keys and values are valid names.
func parseAttrs(specs []string) (map[string][]string, error) {
	attrs := map[string][]string{}
	for _, spec := range specs {
		for part := range strings.SplitSeq(spec, ",") {
			key, values, ok := strings.Cut(part, "=")
			switch {
			case part == "":
				return nil, fmt.Errorf("--attr %q has an empty attribute (two commas, or one at an end); use %s", spec, attrSyntax)
			case !ok:
				return nil, fmt.Errorf("--attr %q: attribute %q has no \"=\"; use %s", spec, part, attrSyntax)
			case key == "":
				return nil, fmt.Errorf("--attr %q: attribute %q has no key before \"=\"; use %s", spec, part, attrSyntax)
			case strings.Contains(values, "="):
				return nil, fmt.Errorf("--attr %q: attribute %q has more than one \"=\"; use %s", spec, part, attrSyntax)
			}
			if _, dup := attrs[key]; dup {
				return nil, fmt.Errorf("--attr %q: attribute %q is given twice; list all its values once, separated by |, as in purpose=training|analytics", spec, key)
			}
			var vs []string
			for v := range strings.SplitSeq(values, "|") {
				if v == "" {
					return nil, fmt.Errorf("--attr %q: attribute %q has an empty value; use %s", spec, key, attrSyntax)
				}
				if slices.Contains(vs, v) {
					return nil, fmt.Errorf("--attr %q: attribute %q lists %q twice", spec, key, v)
				}
				vs = append(vs, v)
			}
			attrs[key] = vs
		}
	}
	return attrs, nil
}

// attrsToProto converts parsed attributes for the API.
func attrsToProto(attrs map[string][]string) map[string]*fvv1.StringList {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]*fvv1.StringList, len(attrs))
	for k, vs := range attrs {
		out[k] = &fvv1.StringList{Values: vs}
	}
	return out
}

// formatAttrs writes attributes back in the --attr syntax, keys sorted:
// "env=prod,purpose=training|analytics", or "-" when there are none.
func formatAttrs(attrs map[string]*fvv1.StringList) string {
	if len(attrs) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+strings.Join(attrs[k].GetValues(), "|"))
	}
	return strings.Join(parts, ",")
}

// splitList splits a comma-separated flag value such as --role a,b,
// refusing empty elements rather than dropping them. Repeated flags add up.
func splitList(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part == "" {
				return nil, fmt.Errorf("%s %q has an empty name (two commas, or one at an end)", flag, v)
			}
			if !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	return out, nil
}
