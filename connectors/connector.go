package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"
)

// Connector links the product to one vendor. Its methods are called with a
// decrypted configuration that they must never log, wrap into an error or
// return.
//
// The shape follows the Airbyte protocol (spec, check, read with state
// messages) and Singer taps' incremental state: Sync reads one page of
// records after state and returns the state after them; the Runner calls it
// until Result.More is false, committing the records and the new state
// together after every call, so a sync killed at any point resumes from its
// last commit with no record lost and none repeated.
type Connector interface {
	// Type is the connector's type, as registered ("example", "sage100").
	Type() string
	// Check authenticates against the vendor with cfg.
	Check(ctx context.Context, cfg Config) error
	// Sync reads the records after state (nil: from the beginning). It
	// must return promptly (the Runner bounds each call, DefaultCallTimeout)
	// and be deterministic in what it reads after a given state.
	Sync(ctx context.Context, cfg Config, state State) (Result, State, error)
	// HandleEvent pushes one product event to the vendor (outgoing).
	// Connectors with nothing to push return nil.
	HandleEvent(ctx context.Context, cfg Config, ev Event) error
}

// State is a connector's opaque checkpoint (JSON), kept by the product
// between calls and between syncs. nil is the beginning.
type State json.RawMessage

// MarshalJSON keeps a state as its JSON.
func (s State) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return s, nil
}

// UnmarshalJSON keeps the JSON as the state (null: the beginning).
func (s *State) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	*s = append((*s)[:0], b...)
	return nil
}

// Result is what one Sync call read.
type Result struct {
	Records []Record
	// More reports that records remain after the returned state: the
	// Runner calls Sync again.
	More bool
}

// Record is one record read from a vendor: its stream ("invoices",
// "employees"), its id at the vendor (the key that makes a re-delivered
// record an update, not a duplicate) and its data.
type Record struct {
	Stream string          `json:"stream"`
	ID     string          `json:"id"`
	Data   json.RawMessage `json:"data"`
}

// Event is a product event handed to HandleEvent. The product delivers it
// at least once (a retry after a failure or a crash repeats it): ID
// identifies it, so a connector that can tell the vendor an idempotency key
// gives it.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
	// Resource and ResourceID name what the event is about ("chantiers", 12).
	Resource   string `json:"resource,omitempty"`
	ResourceID int64  `json:"resource_id,omitempty"`
	// Related are resources the product joined to the event for the
	// connector, by name ("chantier": the chantier a document belongs
	// to), as JSON.
	Related map[string]json.RawMessage `json:"related,omitempty"`
	// Content, when set, opens the bytes the event is about (a document's
	// file); the caller closes what it returns.
	Content func(ctx context.Context) (io.ReadCloser, error) `json:"-"`
}

// Options are what a Factory receives to build a connector.
type Options struct {
	// HTTPClient sends the vendor requests (default: a client whose
	// timeout is DefaultCallTimeout).
	HTTPClient *http.Client
	// BaseURL replaces the vendor's base URL. It is honoured only when the
	// registry allows it (Registry.AllowBaseURLOverride): tests point
	// connectors at their httptest fakes with it; production never does.
	BaseURL string
}

// Factory builds a connector.
type Factory func(Options) (Connector, error)

// ErrUnknownType is returned for a connector type no registry entry has.
var ErrUnknownType = errors.New("connectors: unknown connector type")

// Registry maps connector types to their spec and constructor.
type Registry struct {
	mu        sync.RWMutex
	entries   map[string]entry
	overrides bool
}

type entry struct {
	spec    Spec
	factory Factory
}

var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]entry{}} }

// AllowBaseURLOverride lets Options.BaseURL replace vendors' base URLs
// (tests, fakes). Off by default: vendor base URLs are fixed by their
// packages, so a configuration cannot send credentials elsewhere.
func (r *Registry) AllowBaseURLOverride() *Registry {
	r.mu.Lock()
	r.overrides = true
	r.mu.Unlock()
	return r
}

// Register adds a connector type.
func (r *Registry) Register(spec Spec, f Factory) error {
	if err := spec.check(); err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("connectors: type %q has no factory", spec.Type)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.entries[spec.Type]; dup {
		return fmt.Errorf("connectors: type %q registered twice", spec.Type)
	}
	r.entries[spec.Type] = entry{spec, f}
	return nil
}

// MustRegister is Register that panics on error (package initialisation).
func (r *Registry) MustRegister(spec Spec, f Factory) {
	if err := r.Register(spec, f); err != nil {
		panic(err)
	}
}

// Spec returns the spec of type typ.
func (r *Registry) Spec(typ string) (Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[typ]
	return e.spec, ok
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.entries))
	for t := range r.entries {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// New builds a connector of type typ; its type must match.
func (r *Registry) New(typ string, opts Options) (Connector, Spec, error) {
	r.mu.RLock()
	e, ok := r.entries[typ]
	overrides := r.overrides
	r.mu.RUnlock()
	if !ok {
		return nil, Spec{}, fmt.Errorf("%w %q", ErrUnknownType, typ)
	}
	if !overrides {
		opts.BaseURL = ""
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: DefaultCallTimeout}
	}
	c, err := e.factory(opts)
	if err != nil {
		return nil, Spec{}, fmt.Errorf("connectors: building %q: %w", typ, err)
	}
	if c.Type() != typ {
		return nil, Spec{}, fmt.Errorf("connectors: factory of %q built a %q", typ, c.Type())
	}
	return c, e.spec, nil
}

// Spec describes a connector type: its configuration fields, the vendor
// whose rate limit it shares, and its OAuth endpoints when it uses OAuth.
type Spec struct {
	Type string
	// Vendor names the rate-limit bucket every connector of the vendor
	// shares (default: Type).
	Vendor string
	// Settings are the plain fields of the configuration; Secrets the
	// fields that are shown masked and never logged.
	Settings []Field
	Secrets  []Field
	// RateLimit is the vendor's documented limit (zero: none).
	RateLimit Rate
	// OAuth, when set, configures the authorization-code flow (see OAuth).
	OAuth *OAuthSpec
	// Imports names the streams whose records the product turns into its
	// own rows, in the transaction of their checkpoint: a stream named
	// like a resource ("chantiers", "clients", "depenses", "factures")
	// carries that resource's input (its v1 JSON members) in Data, and the
	// vendor's id in ID, so a record read again updates its row. Members
	// absent from Data keep their value in the product.
	Imports []string
	// Events are the product event types the connector handles
	// ("chantier.created"); the product hands each to HandleEvent of
	// every enabled connector of the type, durably (see the product's
	// connector event deliveries). None: the connector receives no event.
	Events []string
	// EventTimeout bounds one HandleEvent call (default: the Runner's call
	// timeout); a connector that uploads files sets a longer one.
	EventTimeout time.Duration
	// CheckSettings, when set, checks what the field list cannot say (a
	// mapping table, a URL's host): it returns the invalid fields by name
	// ("settings.<name>") with why, never with their values. Validate
	// calls it once the fields themselves are valid.
	CheckSettings func(Config) map[string]string
}

// HandlesEvent reports whether the spec lists event type t.
func (s Spec) HandlesEvent(t string) bool { return slices.Contains(s.Events, t) }

// Field is one configuration field.
type Field struct {
	Name     string
	Required bool
	// MaxLen bounds the value (default 2048 bytes).
	MaxLen int
}

// Rate is a number of requests per period.
type Rate struct {
	Limit  int64
	Period time.Duration
}

var eventType = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (s Spec) check() error {
	if !typeName.MatchString(s.Type) {
		return fmt.Errorf("connectors: type %q: lower-case letters, digits and underscores, starting with a letter", s.Type)
	}
	seen := map[string]bool{}
	for _, f := range slices.Concat(s.Settings, s.Secrets) {
		if !fieldName.MatchString(f.Name) || seen[f.Name] {
			return fmt.Errorf("connectors: type %q: field %q invalid or repeated", s.Type, f.Name)
		}
		seen[f.Name] = true
	}
	for _, e := range s.Events {
		if !eventType.MatchString(e) {
			return fmt.Errorf("connectors: type %q: event type %q invalid", s.Type, e)
		}
	}
	if s.EventTimeout < 0 {
		return fmt.Errorf("connectors: type %q: negative event timeout", s.Type)
	}
	if s.RateLimit.Limit < 0 || (s.RateLimit.Limit > 0 && s.RateLimit.Period <= 0) {
		return fmt.Errorf("connectors: type %q: invalid rate limit", s.Type)
	}
	return nil
}

// VendorKey is the rate-limit bucket of the spec.
func (s Spec) VendorKey() string {
	if s.Vendor != "" {
		return s.Vendor
	}
	return s.Type
}
