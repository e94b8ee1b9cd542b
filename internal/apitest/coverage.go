package apitest

import (
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Coverage records which documented operations and statuses the clients
// of an Env exercised.
type Coverage struct {
	spec *Spec
	mu   sync.Mutex
	seen map[string]map[int]bool // operation → status → seen
	ok   map[string]bool         // operation → answered 2xx to a valid request
}

func newCoverage(s *Spec) *Coverage {
	return &Coverage{spec: s, seen: map[string]map[int]bool{}, ok: map[string]bool{}}
}

func (c *Coverage) record(op Operation, status int, validRequest bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := op.String()
	if c.seen[k] == nil {
		c.seen[k] = map[int]bool{}
	}
	c.seen[k][status] = true
	if validRequest && status >= 200 && status < 300 {
		c.ok[k] = true
	}
}

// WithoutSuccess lists the operations of the document that never answered
// a 2xx to a valid request.
func (c *Coverage) WithoutSuccess() []Operation {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Operation
	for _, op := range c.spec.ops {
		if !c.ok[op.String()] {
			out = append(out, op)
		}
	}
	return out
}

// Unexercised lists, per operation, the documented statuses that no
// response had ("GET /api/v1/stats: 500").
func (c *Coverage) Unexercised() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, op := range c.spec.ops {
		item := c.spec.doc.Paths.Find(strings.TrimPrefix(op.Path, c.spec.base()))
		if item == nil {
			continue
		}
		o := item.GetOperation(op.Method)
		var missing []string
		for code := range o.Responses.Map() {
			n, err := strconv.Atoi(code)
			if err != nil || !c.seen[op.String()][n] {
				missing = append(missing, code)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			out = append(out, op.String()+": "+strings.Join(missing, ", "))
		}
	}
	return out
}
