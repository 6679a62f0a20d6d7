package main

import (
	"bytes"
	"encoding/json"
)

// duplicateKey returns the first name that appears twice in one object of
// the JSON document doc, and true; or "", false when every object's names
// are distinct (or doc is not valid JSON: the decoder says why elsewhere).
//
// encoding/json keeps the last of duplicate names silently, and other
// parsers keep the first: a row such as {"entity": "a", "entity": "b"} or
// {"values": {"age": 1, "age": 2}} means different things to different
// readers, so put refuses it rather than guess. Only the row object and
// its "values" object are checked, so the name returned is a row key or a
// field name, never part of a value (an object anywhere else is refused by
// the type checks anyway).
func duplicateKey(doc []byte) (string, bool) {
	type frame struct {
		object  bool
		wantKey bool
		last    string          // the object's last name
		seen    map[string]bool // names so far, in a checked object
	}
	var stack []frame
	// valueDone marks the end of a value: the enclosing object, if any,
	// expects a name next.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				f := frame{object: true, wantKey: true}
				if n := len(stack); n == 0 || (n == 1 && stack[0].object && stack[0].last == "values") {
					f.seen = map[string]bool{}
				}
				stack = append(stack, f)
			case '[':
				stack = append(stack, frame{})
			default: // '}' or ']'
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := &stack[n-1]
			name, _ := tok.(string)
			if top.seen != nil {
				if top.seen[name] {
					return name, true
				}
				top.seen[name] = true
			}
			top.last, top.wantKey = name, false
			continue
		}
		valueDone()
	}
}
