package audit

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"
)

// Stages of an event (after Kubernetes audit's stages).
const (
	// StageChange is the event of a committed change, written by the use
	// case in the transaction of the change: it exists exactly when the
	// change committed. It carries the action, the resource and the
	// changes, and the request's metadata; its Status is 0 (the response
	// was not written yet).
	StageChange = "change"
	// StageResponse is the event of a request once answered, written by the
	// capture middleware through the asynchronous writer, refused requests
	// included.
	StageResponse = "response"
	// StageAccess is the event of a sensitive read (the audit trail
	// itself), appended synchronously before the data is read.
	StageAccess = "access"
)

// Event is one audit event. The fields from ID to Hash are set by the
// store when the event is appended; the others by whoever records it.
type Event struct {
	bun.BaseModel `bun:"table:audit_events" json:"-"`

	ID int64 `bun:"id,autoincrement" json:"id"`
	// Time is when the event was appended (UTC, microseconds).
	Time time.Time `bun:"ts,notnull" json:"time"`
	// Chain is the month of Time, "2006-01": each month is one hash chain.
	Chain string `bun:"chain,notnull" json:"chain"`
	// Seq is the event's position in its chain, from 1.
	Seq int64 `bun:"seq,notnull" json:"seq"`
	// PrevHash is the Hash of the event before in the chain (GenesisHash
	// for the first).
	PrevHash string `bun:"prev_hash,notnull" json:"prev_hash"`
	// Hash is hex SHA-256 of the event's canonical encoding (see package
	// documentation).
	Hash string `bun:"hash,notnull" json:"hash"`

	Stage     string `bun:"stage,notnull" json:"stage"`
	RequestID string `bun:"request_id,notnull" json:"request_id,omitempty"`
	// The actor: a user, through an API key or an OAuth client (all zero:
	// anonymous).
	UserID      int64  `bun:"user_id,nullzero" json:"user_id,omitempty"`
	APIKeyID    int64  `bun:"api_key_id,nullzero" json:"api_key_id,omitempty"`
	OAuthClient string `bun:"oauth_client,notnull" json:"oauth_client,omitempty"`
	// Action names what was done ("create_chantier", "update_pointage",
	// "read", "read_audit_logs", ...).
	Action       string `bun:"action,notnull" json:"action,omitempty"`
	ResourceType string `bun:"resource_type,notnull" json:"resource_type,omitempty"`
	ResourceID   string `bun:"resource_id,notnull" json:"resource_id,omitempty"`
	Method       string `bun:"method,notnull" json:"method,omitempty"`
	// Route is the route template ("/api/v1/chantiers/{id}"), never the raw
	// path.
	Route  string `bun:"route,notnull" json:"route,omitempty"`
	Status int    `bun:"status,notnull" json:"status,omitempty"`
	// ClientIP comes from the server's client-IP resolver; after
	// anonymisation it is the /24 (IPv4) or /48 (IPv6) network.
	ClientIP  string `bun:"client_ip,notnull" json:"client_ip,omitempty"`
	UserAgent string `bun:"user_agent,notnull" json:"user_agent,omitempty"`
	// PIISalt and PIIDigest commit to ClientIP and UserAgent without
	// putting them in the chain: Hash covers PIIDigest =
	// SHA-256(salt, ip, user agent), so anonymisation (which rewrites the
	// IP, drops the user agent and erases the salt) keeps the chain intact,
	// and an erased salt leaves the digest nothing to be brute-forced from.
	PIISalt   string `bun:"pii_salt,notnull" json:"pii_salt,omitempty"`
	PIIDigest string `bun:"pii_digest,notnull" json:"pii_digest"`
	// BodySHA256 is hex SHA-256 of the request body as the server read it;
	// the body itself is never stored.
	BodySHA256 string `bun:"body_sha256,notnull" json:"body_sha256,omitempty"`
	// Changes is {"before":...,"after":...} for changes, secrets redacted
	// (see Redact), as stored JSON text.
	Changes string `bun:"changes,notnull" json:"-"`
	// ChangesSalt and ChangesDigest commit to Changes as PIISalt and
	// PIIDigest do to the address: Hash covers ChangesDigest =
	// SHA-256(salt, changes), so the erasure of a person (AnonymiseUser)
	// drops the changes of their events, and the salt, without breaking
	// the chain; while the salt is there, Verify checks the changes.
	ChangesSalt   string     `bun:"changes_salt,notnull" json:"changes_salt,omitempty"`
	ChangesDigest string     `bun:"changes_digest,notnull" json:"changes_digest"`
	AnonymisedAt  *time.Time `bun:"anonymised_at" json:"anonymised_at,omitempty"`
}

// eventJSON is Event's JSON form: Changes as JSON, not as a string.
type eventJSON Event

// MarshalJSON writes Changes as a JSON value.
func (e Event) MarshalJSON() ([]byte, error) {
	type out struct {
		eventJSON
		Changes json.RawMessage `json:"changes,omitempty"`
	}
	o := out{eventJSON: eventJSON(e)}
	if e.Changes != "" {
		o.Changes = json.RawMessage(e.Changes)
	}
	return json.Marshal(o)
}

// UnmarshalJSON reads what MarshalJSON writes (archives).
func (e *Event) UnmarshalJSON(b []byte) error {
	type in struct {
		eventJSON
		Changes json.RawMessage `json:"changes,omitempty"`
	}
	var i in
	if err := json.Unmarshal(b, &i); err != nil {
		return err
	}
	*e = Event(i.eventJSON)
	e.Changes = ""
	if len(i.Changes) > 0 {
		e.Changes = string(i.Changes)
	}
	return nil
}

// Actor is who made a request.
type Actor struct {
	UserID      int64
	APIKeyID    int64
	OAuthClient string
}

func (e *Event) setActor(a Actor) {
	e.UserID, e.APIKeyID, e.OAuthClient = a.UserID, a.APIKeyID, a.OAuthClient
}
