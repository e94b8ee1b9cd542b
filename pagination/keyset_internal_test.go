package pagination

import (
	"reflect"
	"strings"
	"testing"
)

func TestKeysetWhereShapes(t *testing.T) {
	a := term{sql: "a"}
	aDesc := term{sql: "a", desc: true}
	n := term{sql: "n", nullable: true}
	nDesc := term{sql: "n", nullable: true, desc: true}
	b := term{sql: "b"}
	id := term{sql: "id"}
	idDesc := term{sql: "id", desc: true}
	tests := []struct {
		name      string
		ts        []term
		vals      []any
		backward  bool
		inclusive bool
		want      string
		wantArgs  []any
	}{
		{"id only → plain comparison", []term{id}, []any{1}, false, false,
			"id > ?", []any{1}},
		{"id only, backward inclusive", []term{id}, []any{1}, true, true,
			"id <= ?", []any{1}},
		{"one direction → row value", []term{a, b, id}, []any{1, 2, 3}, false, false,
			"(a, b, id) > (?, ?, ?)", []any{1, 2, 3}},
		{"one direction descending → row value <", []term{aDesc, idDesc}, []any{1, 2}, false, false,
			"(a, id) < (?, ?)", []any{1, 2}},
		{"backward flips the comparison", []term{aDesc, idDesc}, []any{1, 2}, true, false,
			"(a, id) > (?, ?)", []any{1, 2}},
		{"inclusive row value", []term{a, id}, []any{1, 2}, false, true,
			"(a, id) >= (?, ?)", []any{1, 2}},
		{"mixed directions → bound and expanded form with a row-value tail", []term{aDesc, b, id}, []any{1, 2, 3}, false, false,
			"a <= ? AND (a <> ? OR (b, id) > (?, ?))", []any{1, 1, 2, 3}},
		{"mixed directions everywhere → nested form", []term{aDesc, b, idDesc}, []any{1, 2, 3}, false, false,
			"a <= ? AND (a <> ? OR (b > ? OR (b = ? AND id < ?)))", []any{1, 1, 2, 2, 3}},
		{"nullable ascending, value set → NULL counts as beyond", []term{n, id}, []any{1, 2}, false, false,
			"((n > ? OR n IS NULL) OR (n = ? AND id > ?))", []any{1, 1, 2}},
		{"nullable ascending, value NULL → stay in the NULL group", []term{n, id}, []any{nil, 2}, false, false,
			"n IS NULL AND id > ?", []any{2}},
		{"nullable descending, value set → bounded, NULL excluded", []term{nDesc, idDesc}, []any{1, 2}, false, false,
			"n <= ? AND (n <> ? OR id < ?)", []any{1, 1, 2}},
		{"nullable descending, value NULL → every value is beyond", []term{nDesc, idDesc}, []any{nil, 2}, false, false,
			"(n IS NOT NULL OR (n IS NULL AND id < ?))", []any{2}},
		{"nullable in second place", []term{a, n, id}, []any{1, nil, 3}, false, false,
			"a >= ? AND (a <> ? OR (n IS NULL AND id > ?))", []any{1, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, args := keysetWhere(tt.ts, tt.vals, tt.backward, tt.inclusive)
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !reflect.DeepEqual(args, tt.wantArgs) {
				t.Fatalf("args %v, want %v", args, tt.wantArgs)
			}
			if strings.Count(got, "?") != len(args) {
				t.Fatalf("%d placeholders for %d args", strings.Count(got, "?"), len(args))
			}
		})
	}
}

func TestKeysetSplit(t *testing.T) {
	n := term{sql: "n", nullable: true}
	nDesc := term{sql: "n", nullable: true, desc: true}
	a := term{sql: "a"}
	id := term{sql: "id"}
	tests := []struct {
		name     string
		ts       []term
		vals     []any
		backward bool
		head     string
		args     []any
		tail     string
	}{
		{"ascending from a value: values first, then the NULL block", []term{n, id}, []any{1, 2}, false,
			"n >= ? AND (n <> ? OR id > ?)", []any{1, 1, 2}, "n IS NULL"},
		{"descending from NULL: the NULL block first, then the values", []term{nDesc, id}, []any{nil, 2}, false,
			"n IS NULL AND id > ?", []any{2}, "n IS NOT NULL"},
		{"backward on descending from a value is ascending", []term{nDesc, id}, []any{1, 2}, true,
			"n >= ? AND (n <> ? OR id < ?)", []any{1, 1, 2}, "n IS NULL"},
		{"ascending from NULL: one range, no split", []term{n, id}, []any{nil, 2}, false, "", nil, ""},
		{"descending from a value: one range, no split", []term{nDesc, id}, []any{1, 2}, false, "", nil, ""},
		{"first column NOT NULL: no split", []term{a, n, id}, []any{1, nil, 2}, false, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, args, tail := keysetSplit(tt.ts, tt.vals, tt.backward, false)
			if head != tt.head || tail != tt.tail || !reflect.DeepEqual(args, tt.args) {
				t.Fatalf("got head %q args %v tail %q", head, args, tail)
			}
		})
	}
}

func TestOrderExprs(t *testing.T) {
	ts := []term{{sql: "a", desc: true, nullable: true}, {sql: "b"}, {sql: "id"}}
	if got := strings.Join(orderExprs(ts, false), ", "); got != "a DESC NULLS FIRST, b ASC, id ASC" {
		t.Fatalf("forward: %s", got)
	}
	if got := strings.Join(orderExprs(ts, true), ", "); got != "a ASC NULLS LAST, b DESC, id DESC" {
		t.Fatalf("backward: %s", got)
	}
}
