package hubapi

import (
	"context"
	"encoding/json"
	"time"
)

// Connector is a configured link to a vendor (accounting, payroll,
// calendar, storage, chat) of a type the connectors registry knows. It
// belongs to a user: users see their own connectors, admins all. Its
// configuration is sealed in the database (never in clear) and shown with
// its secrets masked ("••••" and the last 4 characters); every read of it
// is audited.
type Connector struct {
	ID      int64  `bun:"id,pk,autoincrement" json:"id"`
	UserID  int64  `bun:"user_id,notnull" json:"user_id"`
	Type    string `bun:"type,notnull" json:"type"`
	Name    string `bun:"name,notnull" json:"name"`
	Enabled bool   `bun:"enabled,notnull" json:"enabled"`

	ConfigKeyID  string  `bun:"config_key_id,notnull" json:"-"`
	ConfigSealed []byte  `bun:"config_sealed,notnull" json:"-"`
	TokenKeyID   *string `bun:"token_key_id" json:"-"`
	TokenSealed  []byte  `bun:"token_sealed" json:"-"`
	// State is the last committed checkpoint of its syncs (JSON).
	State *string `bun:"state" json:"-"`

	LastSyncAt   *time.Time `bun:"last_sync_at" json:"last_sync_at"`
	SyncStatus   string     `bun:"sync_status,notnull" json:"sync_status"`
	ErrorMessage *string    `bun:"error_message" json:"error_message"`

	// The lease of the running sync: one instance at a time.
	LeaseOwner *string    `bun:"lease_owner" json:"-"`
	LeaseUntil *time.Time `bun:"lease_until" json:"-"`

	CreatedAt time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version   int64     `bun:"version,notnull" json:"version"`

	// Config is the masked configuration, filled by the use cases that
	// show it ({"settings": {...}, "secrets": {"api_key": "••••WXYZ"}}).
	Config *ConnectorConfigView `bun:"-" json:"config,omitempty"`
}

// ConnectorConfigView is a configuration as the API shows it.
type ConnectorConfigView struct {
	Settings map[string]string `json:"settings"`
	Secrets  map[string]string `json:"secrets"`
}

// Sync states of a connector.
const (
	SyncNever     = "never"
	SyncQueued    = "queued"
	SyncRunning   = "running"
	SyncSucceeded = "succeeded"
	SyncFailed    = "failed"
	// SyncContinued ends a run (a sync log) that reached the longest run
	// of one job: the sync goes on in the next run, from its checkpoint.
	SyncContinued = "continued"
)

// ConnectorSyncLog is one run of a connector's sync (one job attempt).
type ConnectorSyncLog struct {
	ID            int64      `bun:"id,pk,autoincrement" json:"id"`
	ConnectorID   int64      `bun:"connector_id,notnull" json:"connector_id"`
	StartedAt     time.Time  `bun:"started_at,notnull" json:"started_at"`
	CompletedAt   *time.Time `bun:"completed_at" json:"completed_at"`
	Status        string     `bun:"status,notnull" json:"status"`
	RecordsSynced int64      `bun:"records_synced,notnull" json:"records_synced"`
	ErrorDetails  *string    `bun:"error_details" json:"error_details"`
	// StateCheckpoint is the checkpoint the run reached (JSON).
	StateCheckpoint *string `bun:"state_checkpoint" json:"state_checkpoint"`
	Attempt         int     `bun:"attempt,notnull" json:"attempt"`
}

// ConnectorRecord is one record a connector synced, kept by (stream, id at
// the vendor): a record synced again replaces its row, never duplicates
// it. Vendor issues map them onto the domain.
type ConnectorRecord struct {
	ConnectorID int64           `bun:"connector_id,pk" json:"connector_id"`
	Stream      string          `bun:"stream,pk" json:"stream"`
	ExternalID  string          `bun:"external_id,pk" json:"external_id"`
	Data        json.RawMessage `bun:"data,type:text,notnull" json:"data"`
	SyncedAt    time.Time       `bun:"synced_at,notnull" json:"synced_at"`
}

// ConnectorInput is the body of POST and PUT
// /integrations/connectors[/{id}]. On PUT, a secret given as "" or as its
// masked form keeps its stored value.
type ConnectorInput struct {
	UserID   int64             `json:"-"`
	Type     string            `json:"type"`
	Name     string            `json:"name"`
	Enabled  *bool             `json:"enabled"`
	Settings map[string]string `json:"settings"`
	Secrets  map[string]string `json:"secrets"`
}

// ConnectorFilter narrows ListConnectors (UserID: admins only).
type ConnectorFilter struct {
	UserID int64
	Type   string
}

// ConnectorCheck is the result of POST /integrations/connectors/{id}/check.
type ConnectorCheck struct {
	OK    bool   `json:"ok"`
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

// MaxConnectorName bounds a connector's name, in characters.
const MaxConnectorName = 200

// ConnectorService is the use cases of connectors. Callers need the
// webhooks:manage scope (integrations); users manage their own
// connectors, admins every connector. Errors: ErrUnauthenticated,
// ErrForbidden, ErrNotFound (another user's connector reads as absent),
// ErrInvalid (unknown type, invalid configuration), ErrConflict, and an
// error wrapping connectors.ErrKey when the stored configuration does not
// open with the configured keys.
type ConnectorService interface {
	CreateConnector(ctx context.Context, in ConnectorInput) (*Connector, error)
	ListConnectors(ctx context.Context, filter ConnectorFilter, req PageRequest) (Page[Connector], error)
	// GetConnector returns the connector with its masked configuration;
	// the read is audited.
	GetConnector(ctx context.Context, id int64) (*Connector, error)
	ReplaceConnector(ctx context.Context, id int64, in ConnectorInput, ifVersion *int64) (*Connector, error)
	DeleteConnector(ctx context.Context, id int64, ifVersion *int64) error
	// CheckConnector authenticates against the vendor.
	CheckConnector(ctx context.Context, id int64) (*ConnectorCheck, error)
	// SyncConnector queues a sync (one at a time per connector).
	SyncConnector(ctx context.Context, id int64) (*Connector, error)
	// SyncConnectorMonth queues the export of a month (YYYY-MM; "": the
	// previous month) to a payroll connector (Silae); the vendor replaces
	// the month. Errors: those of SyncConnector, ErrInvalid for a month
	// that is malformed, in the future, or asked of another type.
	SyncConnectorMonth(ctx context.Context, id int64, month string) (*Connector, error)
	ListConnectorSyncLogs(ctx context.Context, id int64, req PageRequest) (Page[ConnectorSyncLog], error)
}

// ConnectorOAuthState is an OAuth authorization in progress (GET
// /integrations/{type}/authorize → callback): the hash of its state, bound
// to the user who started it and to the connector, single use, with the
// PKCE verifier sealed.
type ConnectorOAuthState struct {
	StateHash      string    `bun:"state_hash,pk"`
	UserID         int64     `bun:"user_id,notnull"`
	ConnectorID    int64     `bun:"connector_id,notnull"`
	VerifierKeyID  string    `bun:"verifier_key_id,notnull"`
	VerifierSealed []byte    `bun:"verifier_sealed,notnull"`
	ExpiresAt      time.Time `bun:"expires_at,notnull"`
}

// ConnectorAuthorization is the answer of GET
// /integrations/{type}/authorize: where to send the user's browser.
type ConnectorAuthorization struct {
	AuthorizeURL string    `json:"authorize_url"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// ConnectorOAuthService is the server side of vendors' OAuth flows.
// Errors: those of ConnectorService, and ErrInvalid for an unknown,
// expired, used or foreign state.
type ConnectorOAuthService interface {
	// AuthorizeConnector starts the authorization of connector id (of type
	// typ, with OAuth) by the caller.
	AuthorizeConnector(ctx context.Context, typ string, id int64) (*ConnectorAuthorization, error)
	// CompleteConnectorAuthorization exchanges the code the vendor gave for
	// state; only the user who started it may complete it, once. params
	// are the other query parameters of the vendor's redirect (QuickBooks'
	// realmId), kept as settings when the type declares them.
	CompleteConnectorAuthorization(ctx context.Context, typ, code, state string, params map[string]string) (*Connector, error)
}

// ConnectorDelivery is one product event handed to one connector (the
// delivery log): recorded when the event is routed, with its job, and
// updated after every attempt. Unique by (connector, event): an event
// routed again adds nothing.
type ConnectorDelivery struct {
	ID          int64  `bun:"id,pk,autoincrement" json:"id"`
	ConnectorID int64  `bun:"connector_id,notnull" json:"connector_id"`
	EventID     string `bun:"event_id,notnull" json:"event_id"`
	EventType   string `bun:"event_type,notnull" json:"event_type"`
	// Event is the event as recorded (JSON), handed to the connector.
	Event         string     `bun:"event,notnull" json:"-"`
	Status        string     `bun:"status,notnull" json:"status"`
	Attempts      int        `bun:"attempts,notnull" json:"attempts"`
	LastError     *string    `bun:"last_error" json:"last_error"`
	LastAttemptAt *time.Time `bun:"last_attempt_at" json:"last_attempt_at"`
	DeliveredAt   *time.Time `bun:"delivered_at" json:"delivered_at"`
	CreatedAt     time.Time  `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull" json:"updated_at"`
}

// Statuses of a connector delivery.
const (
	ConnectorDeliveryPending   = "pending"
	ConnectorDeliveryRetrying  = "retrying"
	ConnectorDeliveryDelivered = "delivered"
	ConnectorDeliveryFailed    = "failed"
	// ConnectorDeliverySkipped: the connector was disabled or deleted
	// before the event reached it.
	ConnectorDeliverySkipped = "skipped"
)

// ConnectorChannel is a push-notification channel opened at a vendor for a
// connector (Google Calendar's events.watch): the vendor posts to the
// server's public route with the channel's id and token; only the token's
// SHA-256 is kept, compared in constant time. A channel is renewed before
// it expires, and the old one stopped at the vendor.
type ConnectorChannel struct {
	ID          string    `bun:"id,pk"`
	ConnectorID int64     `bun:"connector_id,notnull"`
	TokenHash   string    `bun:"token_hash,notnull"`
	ResourceID  string    `bun:"resource_id,notnull"`
	ExpiresAt   time.Time `bun:"expires_at,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}
