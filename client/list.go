package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
)

// Page is one page of a list.
type Page[T any] struct {
	// Items are the page's elements, in the list's order.
	Items []T
	// NextCursor is the cursor of the next page, "" on the last page.
	// It is opaque: pass it back unchanged, keep it out of logs.
	NextCursor string
	// Total counts the items matching the filters when the server says
	// (offset pages of v1), -1 otherwise.
	Total int
	// ETag is the page's entity tag.
	ETag string
}

// pageDecoder reads one page of an API version's list envelope.
type pageDecoder[T any] func(body []byte) (*Page[T], error)

// v1Page is REST v1's list envelope: {"data": [...], "pagination": {...}}.
type v1Page[T any] struct {
	Data       []T `json:"data"`
	Pagination struct {
		NextCursor *string `json:"next_cursor"`
		Total      *int    `json:"total"`
	} `json:"pagination"`
}

func decodeV1Page[T any](body []byte) (*Page[T], error) {
	var p v1Page[T]
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	pg := &Page[T]{Items: p.Data, Total: -1}
	if p.Pagination.NextCursor != nil {
		pg.NextCursor = *p.Pagination.NextCursor
	}
	if p.Pagination.Total != nil {
		pg.Total = *p.Pagination.Total
	}
	return pg, nil
}

// pages iterates over the pages of the list at path: the first with query,
// then each next page through the Link header's rel="next" target (RFC
// 8288), or the body's next cursor when the answer has no such link. It
// stops after the last page, at the first error (yielded), or when the
// loop body breaks. Each page is a conditional GET like any other.
func pages[T any](ctx context.Context, c *Client, path string, query url.Values, decode pageDecoder[T]) iter.Seq2[*Page[T], error] {
	return func(yield func(*Page[T], error) bool) {
		q := query.Encode()
		for {
			res, err := c.do(ctx, &request{method: http.MethodGet, path: path, query: q, header: http.Header{}})
			if err != nil {
				yield(nil, err)
				return
			}
			pg, err := decode(res.body)
			if err != nil {
				yield(nil, fmt.Errorf("hubchantier: GET %s: decoding the page: %w", path, err))
				return
			}
			pg.ETag = res.header.Get("ETag")
			if !yield(pg, nil) {
				return
			}
			next, ok := nextQuery(res.header, c.url(path, q), path)
			if !ok {
				if pg.NextCursor == "" {
					return
				}
				v, _ := url.ParseQuery(q)
				v.Del("page")
				v.Set("cursor", pg.NextCursor)
				next = v.Encode()
			}
			if next == q {
				yield(nil, fmt.Errorf("hubchantier: GET %s: the next page is this page", path))
				return
			}
			q = next
		}
	}
}

// items flattens pages into their elements.
func items[T any](seq iter.Seq2[*Page[T], error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for pg, err := range seq {
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range pg.Items {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// nextQuery returns the query of the Link header's rel="next" target when
// that target is the same list on the same server: the client never sends
// its credentials where a response header points.
func nextQuery(h http.Header, current, path string) (string, bool) {
	base, err := url.Parse(current)
	if err != nil {
		return "", false
	}
	for _, target := range linkTargets(h.Values("Link"), "next") {
		u, err := base.Parse(target)
		if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.Path != base.Path || !strings.HasSuffix(u.Path, path) {
			continue
		}
		return u.RawQuery, true
	}
	return "", false
}

// linkTargets returns the URI references of the links with relation rel
// in Link field values (RFC 8288 §3): `<uri>; rel="next", <uri>; rel=prev`.
func linkTargets(values []string, rel string) []string {
	var out []string
	for _, v := range values {
		for v != "" {
			v = strings.TrimLeft(v, " \t,")
			if !strings.HasPrefix(v, "<") {
				break
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			target := v[1:end]
			v = v[end+1:]
			params := v
			if i := strings.IndexByte(v, '<'); i >= 0 {
				params, v = v[:i], v[i:]
			} else {
				v = ""
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for r := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(val), ",")), `"`)) {
					if strings.EqualFold(r, rel) {
						out = append(out, target)
					}
				}
			}
		}
	}
	return out
}
