package batch

import "encoding/json"

// Naming spells the members of the batch envelope that are more than one
// word, like the API whose operations the batch runs spells its own.
type Naming int

const (
	// SnakeCase is API v1's spelling: depends_on, body_encoding,
	// failed_operation.
	SnakeCase Naming = iota
	// CamelCase is API v2's spelling: dependsOn, bodyEncoding,
	// failedOperation.
	CamelCase
)

// Names of the envelope's members in n.
func (n Naming) dependsOn() string {
	if n == CamelCase {
		return "dependsOn"
	}
	return "depends_on"
}

func (n Naming) failedOperation() string {
	if n == CamelCase {
		return "failedOperation"
	}
	return "failed_operation"
}

// syntax is what the wire format of one batch endpoint depends on: the
// prefix its operation paths are relative to, and the spelling of its
// members.
type syntax struct {
	prefix string
	naming Naming
}

var v1Syntax = &syntax{prefix: DefaultPrefix, naming: SnakeCase}

// requestCamel and operationCamel are Request and Operation as CamelCase
// spells them (the same fields: a conversion turns one into the other).
type requestCamel struct {
	Operations []operationCamel `json:"operations"`
	Atomic     bool             `json:"atomic"`
	Parallel   bool             `json:"parallel"`
}

type operationCamel struct {
	ID        string            `json:"id,omitempty"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      json.RawMessage   `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

// resultCamel is Result as CamelCase spells it.
type resultCamel struct {
	ID           string            `json:"id"`
	Status       int               `json:"status"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyEncoding string            `json:"bodyEncoding,omitempty"`
}

// decodeRequest decodes a batch spelt in n, refusing unknown members.
func (n Naming) decodeRequest(dec *json.Decoder) (Request, error) {
	if n != CamelCase {
		var req Request
		err := dec.Decode(&req)
		return req, err
	}
	var rc requestCamel
	if err := dec.Decode(&rc); err != nil {
		return Request{}, err
	}
	req := Request{Atomic: rc.Atomic, Parallel: rc.Parallel, Operations: make([]Operation, len(rc.Operations))}
	for i, o := range rc.Operations {
		req.Operations[i] = Operation(o)
	}
	return req, nil
}

// response is the body of a batch's answer spelt in n.
func (n Naming) response(results []*Result) any {
	if n != CamelCase {
		return Response{Results: results}
	}
	out := make([]*resultCamel, len(results))
	for i, r := range results {
		out[i] = (*resultCamel)(r)
	}
	return struct {
		Results []*resultCamel `json:"results"`
	}{out}
}
