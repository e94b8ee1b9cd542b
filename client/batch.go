package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hubchantier/hubchantier/client/apiv1"
	"github.com/hubchantier/hubchantier/client/apiv2"
)

// Batch runs up to 100 v2 operations in one request (POST /api/v2/batch):
// paths relative to /api/v2, v2 bodies, references such as
// {"$ref": "site.body.id"} to earlier results, DependsOn to order them;
// an atomic batch runs in one transaction. Each operation has its own
// result (DecodeBatchResult reads it). As a POST without precondition it
// is retried on 429 only.
func (v *V2) Batch(ctx context.Context, b *apiv2.BatchRequest) (*apiv2.BatchResponse, error) {
	req, err := jsonRequest(http.MethodPost, v2Prefix+"/batch", "application/json", b, nil)
	if err != nil {
		return nil, err
	}
	return call[apiv2.BatchResponse](ctx, v.c, req)
}

// DecodeBatchResult reads the result of one operation of a batch (v1 or
// v2) as if the operation had been sent alone: the JSON body of a success
// decoded into a new T (nil for a response without body, such as 204), or
// the problem of a failure (status ≥ 400) as an *Error, which errors.Is
// and errors.As test like any other (a rolled-back operation of an atomic
// batch is an *Error with status 424 and code "rolled-back").
//
//	ch, err := client.DecodeBatchResult[apiv2.Chantier](res.Results[0])
func DecodeBatchResult[T any, R apiv1.BatchResult | apiv2.BatchResult](r R) (*T, error) {
	// The two versions' results differ only in the spelling of
	// bodyEncoding: read both through their JSON.
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var res struct {
		ID             string            `json:"id"`
		Status         int               `json:"status"`
		Headers        map[string]string `json:"headers"`
		Body           json.RawMessage   `json:"body"`
		BodyEncoding   string            `json:"bodyEncoding"`
		BodyEncodingV1 string            `json:"body_encoding"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(res.Body)
	if res.Status >= 400 {
		h := http.Header{}
		for k, v := range res.Headers {
			h.Set(k, v)
		}
		if res.BodyEncoding != "" || res.BodyEncodingV1 != "" {
			body = nil
		}
		e := decodeError("BATCH", "operation "+res.ID, &response{status: res.Status, header: h, body: body})
		e.RequestID = ""
		return nil, e
	}
	if res.BodyEncoding != "" || res.BodyEncodingV1 != "" {
		return nil, fmt.Errorf("hubchantier: batch operation %s answered a body that is not JSON (base64 text): send it alone", res.ID)
	}
	if len(body) == 0 || string(body) == "null" {
		return nil, nil
	}
	out := new(T)
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("hubchantier: batch operation %s: %w", res.ID, err)
	}
	return out, nil
}
