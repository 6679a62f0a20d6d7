package main

import "testing"

func TestDuplicateKeyFindsRepeatedRowKeysAndFieldNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // "" when there is no duplicate
	}{
		{"distinct", `{"entity": "c-1", "values": {"age": 1, "email": "a"}}`, ""},
		{"row key twice", `{"entity": "c-1", "entity": "c-2"}`, "entity"},
		{"field twice", `{"entity": "c-1", "values": {"age": 1, "age": 2}}`, "age"},
		{"field twice after a list", `{"values": {"embedding": [1, 2], "age": 1, "embedding": [3]}}`, "embedding"},
		{"same name in row and values", `{"entity": "c-1", "values": {"entity": 1}}`, ""},
		{"values twice", `{"values": {"age": 1}, "values": {"age": 2}}`, "values"},
		{"names inside a value are not reported", `{"values": {"email": {"secret": 1, "secret": 2}}}`, ""},
		{"names inside the entity are not reported", `{"entity": {"secret": 1, "secret": 2}}`, ""},
		{"nested object ends, checking goes on", `{"values": {"a": {"x": 1}, "b": 1, "a": 2}}`, "a"},
		{"not JSON", `{"entity": `, ""},
		{"not an object", `[1, 1]`, ""},
	}
	for _, tt := range tests {
		got, dup := duplicateKey([]byte(tt.doc))
		if got != tt.want || dup != (tt.want != "") {
			t.Errorf("%s: duplicateKey(%s) = %q, %v; want %q, %v", tt.name, tt.doc, got, dup, tt.want, tt.want != "")
		}
	}
}
