package gcal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
)

// Event is a Calendar event (the fields the connector reads and writes).
type Event struct {
	Kind               string              `json:"kind,omitempty"`
	ID                 string              `json:"id,omitempty"`
	Etag               string              `json:"etag,omitempty"`
	Status             string              `json:"status,omitempty"`
	Summary            string              `json:"summary,omitempty"`
	Description        string              `json:"description,omitempty"`
	Start              *EventDateTime      `json:"start,omitempty"`
	End                *EventDateTime      `json:"end,omitempty"`
	Updated            string              `json:"updated,omitempty"`
	ExtendedProperties *ExtendedProperties `json:"extendedProperties,omitempty"`
}

// EventDateTime is an event's start or end.
type EventDateTime struct {
	Date     string `json:"date,omitempty"`
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

// ExtendedProperties are an event's private and shared properties.
type ExtendedProperties struct {
	Private map[string]string `json:"private,omitempty"`
	Shared  map[string]string `json:"shared,omitempty"`
}

func (e *Event) private(k string) string {
	if e.ExtendedProperties == nil {
		return ""
	}
	return e.ExtendedProperties.Private[k]
}

type eventList struct {
	Items         []Event `json:"items"`
	NextPageToken string  `json:"nextPageToken"`
	NextSyncToken string  `json:"nextSyncToken"`
}

// instant normalises a start or end: Google may answer a dateTime in
// another offset than the one written.
func (d *EventDateTime) instant() string {
	if d == nil {
		return ""
	}
	if d.DateTime != "" {
		if t, err := time.Parse(time.RFC3339, d.DateTime); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
		return d.DateTime
	}
	return d.Date
}

// ContentHash is the hash of what the Hub writes of an event: equal hashes
// mean the calendar holds what the Hub wrote.
func ContentHash(e *Event) string {
	h := sha256.New()
	for _, s := range []string{e.Summary, e.Description, e.Start.instant(), e.End.instant()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// affectation is the data of an affectation event (the product's JSON).
type affectation struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
	ChantierID int64  `json:"chantier_id"`
	Date       string `json:"date"`
	HeureDebut string `json:"heure_debut"`
	HeureFin   string `json:"heure_fin"`
	Note       string `json:"note"`
}

func (a *affectation) event(loc *time.Location) (*Event, error) {
	at := func(hm string) (string, error) {
		t, err := time.ParseInLocation("2006-01-02 15:04", a.Date+" "+hm, loc)
		if err != nil {
			return "", err
		}
		return t.Format(time.RFC3339), nil
	}
	start, err := at(a.HeureDebut)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "the affectation's date or start is not valid"}
	}
	end, err := at(a.HeureFin)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "the affectation's end is not valid"}
	}
	desc := fmt.Sprintf("Affectation %d : utilisateur %d, chantier %d", a.ID, a.UserID, a.ChantierID)
	if a.Note != "" {
		desc += "\n\n" + a.Note
	}
	e := &Event{ID: EventID(a.ID), Status: "confirmed", Summary: fmt.Sprintf("Chantier %d", a.ChantierID), Description: desc,
		Start: &EventDateTime{DateTime: start, TimeZone: loc.String()}, End: &EventDateTime{DateTime: end, TimeZone: loc.String()}}
	e.ExtendedProperties = &ExtendedProperties{Private: map[string]string{
		PropAffectation: strconv.FormatInt(a.ID, 10), PropHash: ContentHash(e)}}
	return e, nil
}

// HandleEvent implements connectors.Connector: affectation events become
// calendar events; other events are ignored.
func (c *Connector) HandleEvent(ctx context.Context, cfg connectors.Config, ev connectors.Event) error {
	switch ev.Type {
	case EventAffectationCreated, EventAffectationUpdated, EventAffectationDeleted:
	default:
		return nil
	}
	var a affectation
	if len(ev.Data) > 0 && string(ev.Data) != "null" {
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			return &connectors.Error{Kind: connectors.KindRejected, Msg: "the event's affectation does not decode"}
		}
	}
	if a.ID <= 0 && ev.Resource == "affectations" {
		a.ID = ev.ResourceID // a deletion carries no data
	}
	if a.ID <= 0 {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "the event carries no affectation id"}
	}
	if ev.Type == EventAffectationDeleted {
		return c.deleteAffectation(ctx, cfg, a.ID)
	}
	loc, err := location(cfg)
	if err != nil {
		return err
	}
	want, err := a.event(loc)
	if err != nil {
		return err
	}
	return c.upsert(ctx, cfg, want)
}

// find returns the event of an affectation: by its id, else (an event the
// Hub created otherwise) by its private property; nil when none.
func (c *Connector) find(ctx context.Context, cfg connectors.Config, id string, affectation string) (*Event, error) {
	var cur Event
	err := c.call(ctx, http.MethodGet, c.eventsURL(cfg, "/"+url.PathEscape(id), nil), nil, &cur)
	switch {
	case err == nil:
		return &cur, nil
	case !hasStatus(err, http.StatusNotFound) && !hasStatus(err, http.StatusGone):
		return nil, err
	}
	var page eventList
	q := url.Values{"privateExtendedProperty": {PropAffectation + "=" + affectation}, "maxResults": {"2"}, "showDeleted": {"true"}}
	if err := c.call(ctx, http.MethodGet, c.eventsURL(cfg, "", q), nil, &page); err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, nil
	}
	return &page.Items[0], nil
}

// upsert writes want unless the calendar already holds its content.
func (c *Connector) upsert(ctx context.Context, cfg connectors.Config, want *Event) error {
	cur, err := c.find(ctx, cfg, want.ID, want.private(PropAffectation))
	if err != nil {
		return err
	}
	if cur == nil {
		err = c.call(ctx, http.MethodPost, c.eventsURL(cfg, "", nil), want, nil)
		if !hasStatus(err, http.StatusConflict) {
			return err
		}
		cur = &Event{ID: want.ID} // inserted meanwhile (a repeated delivery): patch it
	} else if cur.Status != "cancelled" && ContentHash(cur) == want.private(PropHash) {
		return nil // already there: a repeat, or the calendar's own change coming back
	}
	patch := *want
	patch.ID = ""
	return c.call(ctx, http.MethodPatch, c.eventsURL(cfg, "/"+url.PathEscape(cur.ID), nil), &patch, nil)
}

func (c *Connector) deleteAffectation(ctx context.Context, cfg connectors.Config, id int64) error {
	cur, err := c.find(ctx, cfg, EventID(id), strconv.FormatInt(id, 10))
	if err != nil || cur == nil || cur.Status == "cancelled" {
		return err
	}
	err = c.call(ctx, http.MethodDelete, c.eventsURL(cfg, "/"+url.PathEscape(cur.ID), nil), nil, nil)
	if hasStatus(err, http.StatusNotFound) || hasStatus(err, http.StatusGone) {
		return nil // deleted meanwhile
	}
	return err
}

// state is the connector's checkpoint: Google's sync token after the last
// complete sync, and the page token of a sync under way.
type state struct {
	SyncToken string `json:"sync_token,omitempty"`
	PageToken string `json:"page_token,omitempty"`
}

// Record is a calendar change as Sync reads it (stream "events").
type Record struct {
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	Summary     string         `json:"summary,omitempty"`
	Description string         `json:"description,omitempty"`
	Start       *EventDateTime `json:"start,omitempty"`
	End         *EventDateTime `json:"end,omitempty"`
	Updated     string         `json:"updated,omitempty"`
	// AffectationID is the Hub's affectation the event belongs to (0: an
	// event created in the calendar).
	AffectationID int64 `json:"affectation_id,omitempty"`
}

// Sync implements connectors.Connector: one page of the calendar's changes
// after the sync token (all events on the first sync, and after Google
// expired the token: 410). The Hub's own writes are not read back.
func (c *Connector) Sync(ctx context.Context, cfg connectors.Config, st connectors.State) (connectors.Result, connectors.State, error) {
	var cur state
	if len(st) > 0 {
		if err := json.Unmarshal(st, &cur); err != nil {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
		}
	}
	q := url.Values{"maxResults": {strconv.Itoa(PageSize)}}
	if cur.SyncToken != "" {
		q.Set("syncToken", cur.SyncToken)
	} else {
		q.Set("showDeleted", "true") // a full resync also learns what was deleted
	}
	if cur.PageToken != "" {
		q.Set("pageToken", cur.PageToken)
	}
	var page eventList
	err := c.call(ctx, http.MethodGet, c.eventsURL(cfg, "", q), nil, &page)
	if hasStatus(err, http.StatusGone) {
		// fullSyncRequired: start again from nothing, at once
		return connectors.Result{More: true}, connectors.State(`{}`), nil
	}
	if err != nil {
		return connectors.Result{}, nil, err
	}
	res := connectors.Result{Records: make([]connectors.Record, 0, len(page.Items))}
	for i := range page.Items {
		e := &page.Items[i]
		if e.ID == "" {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindMalformed, Msg: "an event has no id"}
		}
		if Echo(e) {
			continue
		}
		r := Record{ID: e.ID, Status: e.Status, Summary: e.Summary, Description: e.Description, Start: e.Start, End: e.End, Updated: e.Updated}
		r.AffectationID, _ = strconv.ParseInt(e.private(PropAffectation), 10, 64)
		data, _ := json.Marshal(r)
		res.Records = append(res.Records, connectors.Record{Stream: "events", ID: e.ID, Data: data})
	}
	next := state{SyncToken: cur.SyncToken}
	switch {
	case page.NextPageToken != "":
		next.PageToken, res.More = page.NextPageToken, true
	case page.NextSyncToken != "":
		next.SyncToken = page.NextSyncToken
	default:
		return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindMalformed, Msg: "the last page has no nextSyncToken"}
	}
	b, _ := json.Marshal(next)
	return res, b, nil
}

// Echo reports whether e is the Hub's own write, unchanged since: a live
// event whose content hashes to the hash the Hub wrote with it.
func Echo(e *Event) bool {
	h := e.private(PropHash)
	return h != "" && e.Status != "cancelled" && ContentHash(e) == h
}

// channel is a push channel as the Calendar API reads and answers it.
type channel struct {
	ID         string            `json:"id"`
	Type       string            `json:"type,omitempty"`
	Address    string            `json:"address,omitempty"`
	Token      string            `json:"token,omitempty"`
	ResourceID string            `json:"resourceId,omitempty"`
	Expiration json.Number       `json:"expiration,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
}

// Watch implements connectors.Watcher (events.watch).
func (c *Connector) Watch(ctx context.Context, cfg connectors.Config, ch connectors.Channel, ttl time.Duration) (connectors.Channel, error) {
	if ch.ID == "" || ch.Token == "" || !strings.HasPrefix(ch.Address, "http") {
		return connectors.Channel{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "a channel needs an id, a token and an address"}
	}
	req := channel{ID: ch.ID, Type: "web_hook", Address: ch.Address, Token: ch.Token}
	if ttl > 0 {
		req.Params = map[string]string{"ttl": strconv.FormatInt(int64(ttl/time.Second), 10)}
	}
	var got channel
	if err := c.call(ctx, http.MethodPost, c.eventsURL(cfg, "/watch", nil), req, &got); err != nil {
		return connectors.Channel{}, err
	}
	ms, err := strconv.ParseInt(got.Expiration.String(), 10, 64)
	if got.ResourceID == "" || err != nil {
		return connectors.Channel{}, &connectors.Error{Kind: connectors.KindMalformed, Msg: "the channel has no resource id or expiration"}
	}
	ch.ResourceID, ch.Expiration = got.ResourceID, time.UnixMilli(ms).UTC()
	return ch, nil
}

// StopWatch implements connectors.Watcher (channels.stop).
func (c *Connector) StopWatch(ctx context.Context, _ connectors.Config, ch connectors.Channel) error {
	err := c.call(ctx, http.MethodPost, c.base+"/calendar/v3/channels/stop", channel{ID: ch.ID, ResourceID: ch.ResourceID}, nil)
	if hasStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}
