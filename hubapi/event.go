package hubapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// EventType names a domain event.
type EventType string

// Domain events emitted by the services.
const (
	EventChantierCreated    EventType = "chantier.created"
	EventChantierUpdated    EventType = "chantier.updated"
	EventChantierDeleted    EventType = "chantier.deleted"
	EventPointageCreated    EventType = "pointage.created"
	EventPointageUpdated    EventType = "pointage.updated"
	EventPointageDeleted    EventType = "pointage.deleted"
	EventPointageValidated  EventType = "pointage.validated"
	EventDocumentCreated    EventType = "document.created"
	EventDocumentUpdated    EventType = "document.updated"
	EventDocumentDeleted    EventType = "document.deleted"
	EventSignalementCreated EventType = "signalement.created"
	EventSignalementUpdated EventType = "signalement.updated"
	EventSignalementDeleted EventType = "signalement.deleted"
	EventSignalementUrgent  EventType = "signalement.urgent"
	EventAffectationCreated EventType = "affectation.created"
	EventAffectationUpdated EventType = "affectation.updated"
	EventAffectationDeleted EventType = "affectation.deleted"
	// Credentials: every instance drops the cached authentications of the
	// key (ResourceID: the key) or of the user's keys (ResourceID: the user).
	EventAPIKeyRevoked EventType = "api_key.revoked"
	EventUserDisabled  EventType = "user.disabled"
	// EventAPIKeyChanged: a key's allow-list or rotation settings changed
	// (announced in-process only; every instance drops the key's cached
	// authentications, as for a revocation).
	EventAPIKeyChanged EventType = "api_key.changed"
	// EventUserErased: a user was anonymised (GDPR erasure; ResourceID: the
	// user, no data). Recorded in the outbox with the erasure; every
	// instance drops the user's cached authentications and flushes its
	// response cache.
	EventUserErased EventType = "user.erased"
	// EventHoursWeeklySummary: the validated hours of the ISO week that
	// just ended, by chantier (Resource "stats"; Data: HoursWeeklySummary).
	// Routed to connectors only (hubapi/jobs), once per connector and
	// week, to owners who may read statistics.
	EventHoursWeeklySummary EventType = "hours.weekly_summary"
)

// Event is something that happened to a resource. Data is the resource after
// the change (nil for deletions).
type Event struct {
	// ID identifies the event ("evt_" + 32 hex digits): receivers use it to
	// ignore a repeated delivery.
	ID         string
	Type       EventType
	Resource   string // "chantiers", "pointages", ...
	ResourceID int64
	ActorID    int64
	At         time.Time
	Data       any
}

// NewEventID draws an event ID.
func NewEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "evt_" + hex.EncodeToString(b)
}

// Publisher receives domain events after the change is committed.
type Publisher interface {
	Publish(ctx context.Context, e Event)
}

// PublisherFunc adapts a func to Publisher.
type PublisherFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// Bus is an in-process Publisher fanning events out to subscribers,
// synchronously and in subscription order. Subscribers must not block.
type Bus struct {
	mu   sync.RWMutex
	subs []func(context.Context, Event)
}

// Subscribe adds fn for every later event.
func (b *Bus) Subscribe(fn func(context.Context, Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, fn)
}

// Publish delivers e to every subscriber.
func (b *Bus) Publish(ctx context.Context, e Event) {
	b.mu.RLock()
	subs := b.subs
	b.mu.RUnlock()
	for _, fn := range subs {
		fn(ctx, e)
	}
}

// HoursWeeklySummary is the data of EventHoursWeeklySummary.
type HoursWeeklySummary struct {
	// WeekStart is the Monday, WeekEnd the Sunday (UTC dates).
	WeekStart    Date  `json:"week_start"`
	WeekEnd      Date  `json:"week_end"`
	TotalMinutes int64 `json:"total_minutes"`
	// Chantiers by validated minutes, most first.
	Chantiers []ChantierHours `json:"chantiers"`
}

// ChantierHours is the validated minutes of one chantier.
type ChantierHours struct {
	ID      int64  `json:"id" bun:"id"`
	Code    string `json:"code" bun:"code"`
	Nom     string `json:"nom" bun:"nom"`
	Minutes int64  `json:"minutes" bun:"minutes"`
}
