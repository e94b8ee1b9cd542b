package batch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/problem"
)

func TestParseRefusesMalformedBatches(t *testing.T) {
	get := func(id string) string { return fmt.Sprintf(`{"id":%q,"method":"GET","path":"/users/me"}`, id) }
	var many []string
	for range MaxOperations + 1 {
		many = append(many, `{"method":"GET","path":"/users/me"}`)
	}
	cases := []struct {
		name, body, operation, detail string
	}{
		{"not UTF-8", "{\"operations\":[\xff]}", "", "UTF-8"},
		{"trailing data", `{"operations":[` + get("a") + `]} {}`, "", "single JSON object"},
		{"wrong type", `{"operations":{}}`, "", "wrong type"},
		{"101 operations", `{"operations":[` + strings.Join(many, ",") + `]}`, "op101", "at most 100"},
		{"bad id", `{"operations":[{"id":"a b","method":"GET","path":"/x"}]}`, "op1", "id must be"},
		{"duplicate id", `{"operations":[` + get("a") + `,` + get("a") + `]}`, "a", "used twice"},
		{"unknown method", `{"operations":[{"method":"TRACE","path":"/x"}]}`, "op1", "method must be"},
		{"relative path", `{"operations":[{"method":"GET","path":"x"}]}`, "op1", "single /"},
		{"host path", `{"operations":[{"method":"GET","path":"//evil.test/x"}]}`, "op1", "single /"},
		{"dot segment", `{"operations":[{"method":"GET","path":"/a/./b"}]}`, "op1", "clean"},
		{"fragment", `{"operations":[{"method":"GET","path":"/a#b"}]}`, "op1", "not allowed"},
		{"full API path", `{"operations":[{"method":"GET","path":"/api/v1/chantiers"}]}`, "op1", "relative to /api/v1"},
		{"nested batch", `{"operations":[{"id":"n","method":"POST","path":"/batch","body":{}}]}`, "n", "batch may not contain a batch"},
		{"nested batch, other case", `{"operations":[{"id":"n","method":"POST","path":"/Batch/","body":{}}]}`, "n", ""},
		{"credential header", `{"operations":[{"method":"GET","path":"/x","headers":{"authorization":"Bearer k"}}]}`, "op1", "may not be set"},
		{"header with a newline", `{"operations":[{"method":"GET","path":"/x","headers":{"If-Match":"a\r\nX-Evil: 1"}}]}`, "op1", "control character"},
		{"body on GET", `{"operations":[{"method":"GET","path":"/x","body":{}}]}`, "op1", "has no body"},
		{"unbalanced brace", `{"operations":[` + get("a") + `,{"method":"GET","path":"/x/{a.body.id"}]}`, "op2", "unbalanced"},
		{"malformed reference", `{"operations":[` + get("a") + `,{"method":"GET","path":"/x/{a}"}]}`, "op2", "must read"},
		{"reference to a part that does not exist", `{"operations":[` + get("a") + `,{"method":"GET","path":"/x/{a.cookies.x}"}]}`, "op2", "must read"},
		{"empty member", `{"operations":[` + get("a") + `,{"method":"GET","path":"/x/{a.body..id}"}]}`, "op2", "empty"},
		{"unknown reference", `{"operations":[` + get("a") + `,{"method":"POST","path":"/x","body":{"k":{"$ref":"zz.body.id"}}}]}`, "op2", "names no operation"},
		{"unknown depends_on", `{"operations":[{"method":"GET","path":"/x","depends_on":["zz"]}]}`, "op1", "depends_on names"},
		{"self reference", `{"operations":[{"id":"s","method":"GET","path":"/x/{s.body.id}"}]}`, "s", "cycle: s → s"},
		{"cycle through depends_on", `{"operations":[{"id":"a","method":"GET","path":"/x","depends_on":["b"]},{"id":"b","method":"GET","path":"/x/{c.body.id}"},{"id":"c","method":"GET","path":"/x","depends_on":["a"]}]}`, "a", "cycle: a → b → c → a"},
		{"forward reference", `{"operations":[{"id":"a","method":"GET","path":"/x/{b.body.id}"},` + get("b") + `]}`, "a", "later operation"},
		{"duplicate operations", `{"operations":[` + get("a") + `],"operations":[` + get("b") + `]}`, "", `member "operations" appears more than once in the batch`},
		{"duplicate atomic", `{"atomic":false,"operations":[` + get("a") + `],"atomic":true}`, "", `member "atomic" appears more than once in the batch`},
		{"member in another case", `{"Atomic":true,"operations":[` + get("a") + `]}`, "", `unknown member "Atomic" in the batch`},
		{"duplicate method", `{"operations":[` + get("a") + `,{"id":"b","method":"GET","path":"/x","method":"DELETE"}]}`, "b", `member "method" appears more than once in the operation`},
		{"duplicate body", `{"operations":[{"method":"POST","path":"/x","body":{},"body":{"k":1}}]}`, "op1", `member "body" appears more than once`},
		{"id member twice", `{"operations":[` + get("a") + `,{"id":"x","method":"GET","path":"/x","id":"y"}]}`, "op2", `member "id" appears more than once`},
		{"duplicate path in the last operation", `{"operations":[` + get("a") + `,` + get("b") + `,{"method":"GET","path":"/x","path":"/y"}]}`, "op3", `member "path"`},
		{"operation member in another case", `{"operations":[{"Method":"GET","path":"/x"}]}`, "op1", `unknown member "Method" in the operation`},
		{"duplicate header", `{"operations":[{"id":"h","method":"GET","path":"/x","headers":{"If-Match":"\"v1\"","If-Match":"*"}}]}`, "h", `header "If-Match" appears more than once`},
		{"duplicate header in another case", `{"operations":[{"id":"h","method":"GET","path":"/x","headers":{"If-Match":"\"v1\"","if-match":"*"}}]}`, "h", `header "if-match" appears more than once`},
		{"forward reference in a header", `{"operations":[{"id":"a","method":"GET","path":"/x","headers":{"If-Match":"{b.headers.ETag}"}},` + get("b") + `]}`, "a", "later operation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse([]byte(tc.body), v1Syntax)
			d, ok := problem.As(err)
			if !ok || d.Status != 400 || d.Type != "invalid-batch" {
				t.Fatalf("err = %v", err)
			}
			if tc.operation != "" && (d.Extensions["operation"] != tc.operation || !strings.HasPrefix(d.Detail, "operation "+tc.operation+": ")) {
				t.Fatalf("problem names %v: %q", d.Extensions["operation"], d.Detail)
			}
			if tc.operation == "" && d.Extensions["operation"] != nil {
				t.Fatalf("problem names operation %v: %q", d.Extensions["operation"], d.Detail)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Fatalf("detail %q lacks %q", d.Detail, tc.detail)
			}
		})
	}
}

func TestParseAcceptsAndOrders(t *testing.T) {
	p, err := parse([]byte(`{"operations":[
		{"id":"late","method":"GET","path":"/x","depends_on":["b"]},
		{"id":"a","method":"POST","path":"/x","body":null},
		{"id":"b","method":"PATCH","path":"/x/{a.body.id}","headers":{"If-Match":"{a.headers.ETag}"},"body":{"n":{"$ref":"a.body.items.0.n"}}},
		{"method":"DELETE","path":"/x/{a.status}?q=1"}]}`), v1Syntax)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.order()); got != "[1 2 0 3]" {
		t.Fatalf("order %s", got)
	}
	if p.ops[1].Body != nil || len(p.ops[2].refs) != 3 || p.ops[3].ID != "op4" {
		t.Fatalf("ops %+v", p.ops)
	}
}

// FuzzBatchPayload feeds the parser arbitrary bodies and resolves the
// references of every accepted batch against made-up results: no input
// panics, every refusal is a 400 problem naming a known operation (or
// none), and every resolved operation is a clean path under the prefix
// with a JSON body.
func FuzzBatchPayload(f *testing.F) {
	seeds := []string{
		`{"operations":[{"method":"GET","path":"/users/me"}]}`,
		`{"atomic":true,"parallel":true,"operations":[{"id":"a","method":"POST","path":"/chantiers","body":{"code":"C"}},{"method":"PATCH","path":"/chantiers/{a.body.id}","headers":{"If-Match":"{a.headers.ETag}"},"body":{"x":[{"$ref":"a.body.list.1"}]}}]}`,
		`{"operations":[{"id":"x","method":"GET","path":"/c/{y.body.id}"},{"id":"y","method":"GET","path":"/c/{x.body.id}"}]}`,
		`{"operations":[{"id":"a","method":"GET","path":"/c","depends_on":["a"]}]}`,
		`{"operations":[{"method":"POST","path":"/batch","body":{"operations":[]}}]}`,
		`{"operations":[{"method":"GET","path":"/c/{op0.status}/{op1.body.a.b.c}?f={op1.body.s}"}]}`,
		`{"operations":[{"method":"GET","path":"/a"},{"method":"GET","path":"/b/{op1.body.s}"}]}`,
		`{"operations":[{"method":"GET","path":"/a"},{"method":"POST","path":"/b","body":{"$ref":"op1.body"}}]}`,
		`{"operations":[{"method":"GET","path":"/a/%2e%2e/b"}]}`,
		`{"operations":[{"method":"GET","path":"/a?x={"}]}`,
		`{"operations":[{"id":"a","method":"GET","path":"/c","dependsOn":["a"]}]}`,
		`{"operations":[{"method":"GET","path":"/api/v1/chantiers"},{"method":"GET","path":"/api/v2/chantiers"}]}`,
		`{"operations":[{"method":"GET","path":"/a"}],"operations":[{"method":"GET","path":"/b"}]}`,
		`{"atomic":true,"operations":[{"id":"a","method":"GET","path":"/a","id":"b"}],"atomic":false}`,
		`{"operations":[{"method":"GET","path":"/a","headers":{"If-Match":"*","if-match":"\"v1\""}}]}`,
		`{"operations":[{"method":"POST","path":"/a","body":{"k":1,"k":2},"body":{}}]}`,
		`{"Operations":[{"Method":"GET","path":"/a"}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	made := []*Result{
		{Status: 201, Headers: map[string]string{"ETag": `"v1"`}, Body: json.RawMessage(`{"id":7,"s":"a/b?..","list":[1,{"n":2}],"a":{"b":{"c":true}}}`)},
		{Status: 200, Headers: map[string]string{}, Body: json.RawMessage(`[{"id":1},"..",null]`)},
		{Status: 204, Body: json.RawMessage(`null`)},
		{Status: 200, Body: json.RawMessage(`"AAE="`), BodyEncoding: "base64"},
	}
	v2 := &syntax{prefix: "/api/v2", naming: CamelCase}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, syn := range []*syntax{v1Syntax, v2} {
			fuzzParse(t, data, syn, made)
		}
	})
}

func fuzzParse(t *testing.T, data []byte, syn *syntax, made []*Result) {
	p, err := parse(data, syn)
	if err != nil {
		d, ok := problem.As(err)
		if !ok || d.Status != 400 {
			t.Fatalf("refusal is not a 400 problem: %v", err)
		}
		return
	}
	if len(p.ops) == 0 || len(p.ops) > MaxOperations {
		t.Fatalf("%d operations accepted", len(p.ops))
	}
	order := p.order()
	if len(order) != len(p.ops) {
		t.Fatalf("order %v of %d operations", order, len(p.ops))
	}
	results := make([]*Result, len(p.ops))
	for k, i := range order {
		o := p.ops[i]
		for _, d := range o.deps {
			if results[d] == nil {
				t.Fatalf("operation %d runs before its dependency %d", i, d)
			}
		}
		res, err := o.resolve(results, p.byID)
		if err != nil {
			if d, ok := problem.As(err); !ok || d.Status != 400 || d.Extensions["operation"] != o.ID {
				t.Fatalf("resolve: %v", err)
			}
		} else {
			if err := checkPath(o, res.path); err != nil {
				t.Fatalf("resolved path %q: %v", res.path, err)
			}
			if res.body != nil && !json.Valid(res.body) {
				t.Fatalf("resolved body %q", res.body)
			}
		}
		r := *made[k%len(made)]
		r.ID = o.ID
		results[i] = &r
	}
}

// The strict member check follows the batch's spelling: a camelCase batch
// takes dependsOn and refuses it twice or in another case.
func TestMembersCheckedInTheBatchSpelling(t *testing.T) {
	v2 := &syntax{prefix: "/api/v2", naming: CamelCase}
	if _, err := parse([]byte(`{"operations":[{"id":"a","method":"GET","path":"/a"},{"method":"GET","path":"/b","dependsOn":["a"]}]}`), v2); err != nil {
		t.Fatalf("camelCase batch refused: %v", err)
	}
	for body, want := range map[string]string{
		`{"operations":[{"id":"a","method":"GET","path":"/a"},{"method":"GET","path":"/b","dependsOn":["a"],"dependsOn":[]}]}`: `member "dependsOn" appears more than once`,
		`{"operations":[{"id":"a","method":"GET","path":"/a"},{"method":"GET","path":"/b","dependson":["a"]}]}`:                `unknown member "dependson"`,
		`{"operations":[{"method":"GET","path":"/a","depends_on":[]}]}`:                                                        `unknown member "depends_on"`,
	} {
		_, err := parse([]byte(body), v2)
		d, ok := problem.As(err)
		if !ok || d.Status != 400 || !strings.Contains(d.Detail, want) {
			t.Errorf("%s: %v, want a 400 saying %s", body, err, want)
		}
	}
}
