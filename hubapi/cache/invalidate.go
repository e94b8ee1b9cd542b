package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Bounds of a broadcast message; larger ones are dropped.
const (
	maxMessageBytes = 64 << 10
	maxMessageTypes = 1024
)

// message is an invalidation broadcast on the Redis channel, as JSON:
// {"o":"<instance>","r":["chantiers"]} or {"o":"<instance>","all":true}.
type message struct {
	Origin    string   `json:"o"`
	Resources []string `json:"r,omitempty"`
	All       bool     `json:"all,omitempty"`
}

var errMessage = errors.New("cache: malformed invalidation message")

// decodeMessage parses and checks a broadcast payload.
func decodeMessage(payload string) (message, error) {
	var m message
	if len(payload) > maxMessageBytes {
		return m, errMessage
	}
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return message{}, errMessage
	}
	if m.Origin == "" || len(m.Origin) > 64 || len(m.Resources) > maxMessageTypes || (!m.All && len(m.Resources) == 0) {
		return message{}, errMessage
	}
	for _, r := range m.Resources {
		if r == "" || len(r) > maxResourceName {
			return message{}, errMessage
		}
	}
	return m, nil
}

// Invalidate makes every entry depending on one of the resource types
// unreachable, in O(1) per type, and broadcasts the invalidation when Redis
// is configured. Call it after a mutation is committed. Types no route
// depends on are ignored locally and still broadcast (other instances may
// cache more routes).
//
// The local invalidation always happens. The returned error only reports a
// failed broadcast: log it, do not fail the mutation (other instances then
// serve their entries until the TTL ends).
func (c *Cache) Invalidate(ctx context.Context, resources ...string) error {
	if len(resources) == 0 {
		return nil
	}
	c.bump(resources)
	return c.publish(ctx, message{Origin: c.origin, Resources: resources})
}

// FlushAll makes every entry unreachable and empties the store, on this
// instance and, with Redis, on every instance: use it when a user's data is
// erased or anonymised (GDPR), since entries of many routes may hold it.
// As for Invalidate, the error only reports a failed broadcast.
func (c *Cache) FlushAll(ctx context.Context) error {
	c.flushLocal()
	return c.publish(ctx, message{Origin: c.origin, All: true})
}

func (c *Cache) bump(resources []string) {
	for _, r := range resources {
		if g := c.gens[r]; g != nil {
			g.Add(1)
		}
	}
	c.emit(Event{Kind: EventInvalidate})
}

// flushLocal bumps the global generation first, so that no request builds a
// key of the old generation after the store is emptied.
func (c *Cache) flushLocal() {
	c.global.Add(1)
	_ = c.store.Reset() // never fails in bigcache v3.1.0
	c.emit(Event{Kind: EventFlush})
}

func (c *Cache) publish(ctx context.Context, m message) error {
	if c.bcast == nil {
		return nil
	}
	payload, err := json.Marshal(m)
	if err == nil {
		// A failed publish also drops the subscription: the cache is
		// bypassed until it is back and resynced.
		err = c.bcast.Publish(ctx, payload)
	}
	if err != nil {
		c.fail("", "publish", err)
		return fmt.Errorf("cache: broadcast invalidation: %w", err)
	}
	return nil
}

// apply applies a broadcast from another instance.
func (c *Cache) apply(payload string) {
	m, err := decodeMessage(payload)
	if err != nil {
		c.fail("", "message", err)
		return
	}
	if m.Origin == c.origin {
		return // applied when published
	}
	if m.All {
		c.flushLocal()
		return
	}
	c.bump(m.Resources)
}
