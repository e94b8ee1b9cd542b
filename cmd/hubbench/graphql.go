package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
)

// The page50 mix compares GraphQL with REST on the same page: 50 chantiers
// with the same members and their responsable, walked page after page by
// cursor, the two interleaved in one run.
const (
	page50Size   = 50
	page50Fields = "id,code,nom,statut,ville,updated_at,responsable"
	page50Query  = `query($after: String) { chantiers(first: 50, after: $after) { ` +
		`nodes { id code nom statut ville updatedAt responsable { id nom prenom } } pageInfo { hasNextPage endCursor } } }`
)

var graphqlHeader = http.Header{"Content-Type": {"application/json"}, "Accept": {"application/graphql-response+json"}}

// page50 is the state of the page50 walks of a workload.
type page50 struct {
	rest, gql chan *walk
}

// preparePage50 starts one walk per client for each API, at the first page.
func (w *workload) preparePage50(n int) {
	w.p50 = &page50{rest: make(chan *walk, n), gql: make(chan *walk, n)}
	for range n {
		w.p50.rest <- &walk{}
		w.p50.gql <- &walk{}
	}
}

// restPage50 reads the next page of 50 through REST.
func (w *workload) restPage50(ctx context.Context, _ *rand.Rand) (int, error) {
	return w.walkPage(ctx, w.p50.rest, func(cursor string) (int, string, error) {
		path := w.t.prefix + "/chantiers?limit=50&fields=" + page50Fields
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		return w.nextCursor(ctx, path)
	})
}

// graphqlPage50 reads the next page of 50 through GraphQL.
func (w *workload) graphqlPage50(ctx context.Context, _ *rand.Rand) (int, error) {
	return w.walkPage(ctx, w.p50.gql, func(cursor string) (int, string, error) {
		vars := map[string]any{}
		if cursor != "" {
			vars["after"] = cursor
		}
		body, err := json.Marshal(map[string]any{"query": page50Query, "variables": vars})
		if err != nil {
			return 0, "", err
		}
		r, err := w.send(ctx, http.MethodPost, "/graphql", graphqlHeader, body, true)
		defer r.release()
		if err != nil {
			return 0, "", err
		}
		if r.status != http.StatusOK {
			return r.status, "", fmt.Errorf("%w: /graphql answered %d", errBadResponse, r.status)
		}
		next, err := findEndCursor(r.body)
		if err != nil {
			return r.status, "", fmt.Errorf("%w: %v", errBadResponse, err)
		}
		return r.status, next, nil
	})
}

// walkPage takes a walk from walks, reads its page and moves it on (back to
// the first page after maxWalk pages or at the end).
func (w *workload) walkPage(ctx context.Context, walks chan *walk, read func(cursor string) (int, string, error)) (int, error) {
	var wk *walk
	select {
	case wk = <-walks:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { walks <- wk }()
	status, next, err := read(wk.cursor)
	wk.pages++
	if err != nil || next == "" || wk.pages >= maxWalk {
		wk.cursor, wk.pages = "", 0
	} else {
		wk.cursor = next
	}
	return status, err
}

// findEndCursor returns pageInfo.endCursor of a GraphQL page ("" when null)
// and fails on a response with errors.
func findEndCursor(body []byte) (string, error) {
	if bytes.Contains(body, []byte(`"errors":`)) {
		return "", errors.New("the response has errors")
	}
	const member = `"endCursor":`
	i := bytes.LastIndex(body, []byte(member))
	if i < 0 {
		return "", errors.New("no endCursor in the page")
	}
	rest := bytes.TrimLeft(body[i+len(member):], " \t\r\n")
	if bytes.HasPrefix(rest, []byte("null")) {
		return "", nil
	}
	end := bytes.IndexByte(rest[1:], '"')
	if len(rest) == 0 || rest[0] != '"' || end < 0 {
		return "", errors.New("truncated endCursor")
	}
	var next string
	if err := json.Unmarshal(rest[:end+2], &next); err != nil {
		return "", err
	}
	return next, nil
}
