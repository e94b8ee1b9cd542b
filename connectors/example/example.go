// Package example is a tiny connector that shows the pattern every vendor
// package follows: a Spec (settings, secrets, rate limit), a Factory with a
// fixed base URL, Check/Sync/HandleEvent over the vendor's HTTP API with
// failures classified by connectors.DoJSON, and an httptest fake of the
// vendor (package examplefake).
//
// The vendor, "Example Timesheets", serves time entries:
//
//	GET  /v1/me                        → 200 {"account": "..."}
//	GET  /v1/entries?after=C&limit=N   → 200 {"entries": [...], "next": "C2" | null}
//	POST /v1/events                    → 202
//
// authenticated by "Authorization: Bearer <api_key>".
package example

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "example"

// BaseURL is the vendor's API.
const BaseURL = "https://api.example-timesheets.invalid"

// PageSize is how many entries one Sync call reads.
const PageSize = 50

// Spec is the example connector's spec.
var Spec = connectors.Spec{
	Type:      Type,
	Settings:  []connectors.Field{{Name: "account", Required: true, MaxLen: 100}},
	Secrets:   []connectors.Field{{Name: "api_key", Required: true, MaxLen: 200}},
	RateLimit: connectors.Rate{Limit: 20, Period: time.Second},
}

// Register adds the example connector to reg.
func Register(reg *connectors.Registry) error { return reg.Register(Spec, New) }

// New builds the connector.
func New(opts connectors.Options) (connectors.Connector, error) {
	base := BaseURL
	if opts.BaseURL != "" {
		base = opts.BaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("example: invalid base URL")
	}
	return &Connector{base: u, client: opts.HTTPClient}, nil
}

// Connector is the example connector.
type Connector struct {
	base   *url.URL
	client *http.Client
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

func (c *Connector) request(ctx context.Context, method, path string, q url.Values, body []byte, cfg connectors.Config) (*http.Request, error) {
	u := *c.base
	u.Path = path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Secret("api_key"))
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Check implements connectors.Connector: the key must belong to the
// configured account.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	req, err := c.request(ctx, http.MethodGet, "/v1/me", nil, nil, cfg)
	if err != nil {
		return err
	}
	var me struct {
		Account string `json:"account"`
	}
	if err := connectors.DoJSON(ctx, c.client, req, &me); err != nil {
		return err
	}
	if me.Account != cfg.Setting("account") {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "the API key belongs to another account"}
	}
	return nil
}

// state is the connector's checkpoint: the vendor's cursor.
type state struct {
	After string `json:"after"`
}

// Entry is a time entry at the vendor.
type Entry struct {
	ID       string  `json:"id"`
	Employee string  `json:"employee"`
	Date     string  `json:"date"`
	Hours    float64 `json:"hours"`
}

// Sync implements connectors.Connector: one page of entries after the
// cursor of st.
func (c *Connector) Sync(ctx context.Context, cfg connectors.Config, st connectors.State) (connectors.Result, connectors.State, error) {
	var cur state
	if len(st) > 0 {
		if err := json.Unmarshal(st, &cur); err != nil {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
		}
	}
	q := url.Values{"limit": {strconv.Itoa(PageSize)}}
	if cur.After != "" {
		q.Set("after", cur.After)
	}
	req, err := c.request(ctx, http.MethodGet, "/v1/entries", q, nil, cfg)
	if err != nil {
		return connectors.Result{}, nil, err
	}
	var page struct {
		Entries []Entry `json:"entries"`
		Next    *string `json:"next"`
	}
	if err := connectors.DoJSON(ctx, c.client, req, &page); err != nil {
		return connectors.Result{}, nil, err
	}
	res := connectors.Result{Records: make([]connectors.Record, 0, len(page.Entries))}
	for _, e := range page.Entries {
		if e.ID == "" {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindMalformed, Msg: "an entry has no id"}
		}
		data, _ := json.Marshal(e)
		res.Records = append(res.Records, connectors.Record{Stream: "entries", ID: e.ID, Data: data})
	}
	next := cur
	if page.Next != nil {
		next.After = *page.Next
		res.More = true
	} else if n := len(page.Entries); n > 0 {
		next.After = page.Entries[n-1].ID // later syncs read only what is new
	}
	b, _ := json.Marshal(next)
	return res, b, nil
}

// HandleEvent implements connectors.Connector: the event is posted as is.
func (c *Connector) HandleEvent(ctx context.Context, cfg connectors.Config, ev connectors.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable event"}
	}
	req, err := c.request(ctx, http.MethodPost, "/v1/events", nil, body, cfg)
	if err != nil {
		return err
	}
	return connectors.DoJSON(ctx, c.client, req, nil)
}
