package hubapi

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/clientip"
)

// Key security defaults (features 5.3 and 5.5 of the specification).
const (
	// DefaultRotationIntervalDays is the automatic rotation period of a key
	// created without rotation_interval_days.
	DefaultRotationIntervalDays = 90
	// MaxRotationIntervalDays bounds rotation_interval_days (ten years).
	MaxRotationIntervalDays = 3650
	// DefaultRotationGrace is how long the secret replaced by a rotation
	// keeps authenticating.
	DefaultRotationGrace = 7 * 24 * time.Hour
	// MaxIPAllowlist bounds the entries of an allow-list.
	MaxIPAllowlist = 100
	// maxAllowlistEntry bounds one entry, in bytes (the longest IPv6 CIDR
	// is 43 bytes).
	maxAllowlistEntry = 64
)

// Events about API keys (Resource "api_keys", ResourceID the key, Data an
// APIKeyEventData). Both are webhook event types: api_key.rotated reaches
// the key owner's subscriptions, api_key.anomaly the admins' ones.
const (
	EventAPIKeyRotated EventType = "api_key.rotated" // #nosec G101 -- an event type name, not a credential
	EventAPIKeyAnomaly EventType = "api_key.anomaly"
)

// ErrAPIKeyRotated is the authentication error of a secret replaced by a
// rotation whose grace period is over: the client is told the key was
// rotated, not that its secret is unknown. It wraps ErrUnauthenticated.
var ErrAPIKeyRotated = fmt.Errorf("%w: the API key was rotated", ErrUnauthenticated)

// IPAllowlist is the networks an API key may be used from, as given
// ("10.0.0.0/8", "2001:db8::1"). Stored as a JSON array; nil (SQL NULL)
// means no restriction.
type IPAllowlist []string

// Value implements driver.Valuer: NULL for nil, a JSON array otherwise.
func (l IPAllowlist) Value() (driver.Value, error) {
	if l == nil {
		return nil, nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *IPAllowlist) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("hubapi: cannot scan %T into IPAllowlist", src)
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil {
		s = []string{}
	}
	*l = s
	return nil
}

// Prefixes returns the networks of l. Entries were checked when stored;
// one that does not parse any more matches nothing.
func (l IPAllowlist) Prefixes() []netip.Prefix {
	if l == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(l))
	for _, e := range l {
		if p, err := clientip.ParsePrefixes(e); err == nil && len(p) == 1 {
			out = append(out, p[0])
		}
	}
	return out
}

// ParseIPAllowlist checks the entries of an allow-list (IPv4 or IPv6
// addresses and CIDR networks) and returns them normalised ("10.1.2.3/8"
// becomes "10.0.0.0/8", "::ffff:10.0.0.1" becomes "10.0.0.1/32"),
// duplicates dropped. nil stays nil (no restriction); an empty list refuses
// every address. The error is a ValidationError naming the first bad entry
// under "ip_allowlist".
func ParseIPAllowlist(entries []string) (IPAllowlist, error) {
	if entries == nil {
		return nil, nil
	}
	if len(entries) > MaxIPAllowlist {
		return nil, &ValidationError{Fields: map[string]string{"ip_allowlist": fmt.Sprintf("at most %d entries", MaxIPAllowlist)}}
	}
	out := make(IPAllowlist, 0, len(entries))
	for i, e := range entries {
		bad := func(msg string) error {
			shown := strings.ToValidUTF8(e, "?")
			if len(shown) > maxAllowlistEntry {
				shown = shown[:maxAllowlistEntry] + "…"
			}
			return &ValidationError{Fields: map[string]string{"ip_allowlist": fmt.Sprintf("entry %d (%q): %s", i, shown, msg)}}
		}
		e = strings.TrimSpace(e)
		if e == "" || len(e) > maxAllowlistEntry || strings.ContainsAny(e, ", \t\r\n") {
			return nil, bad("not an IP address or CIDR network")
		}
		p, err := clientip.ParsePrefixes(e)
		if err != nil || len(p) != 1 {
			msg := "not an IP address or CIDR network"
			var ee *clientip.EntryError
			if errors.As(err, &ee) {
				msg = ee.Msg
			}
			return nil, bad(msg)
		}
		s := p[0].String()
		dup := false
		for _, x := range out {
			dup = dup || x == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out, nil
}

// AllowsIP reports whether a key restricted to nets may be used from a: a
// nil list allows every address; otherwise an unknown address (the zero
// Addr) is refused.
func AllowsIP(nets []netip.Prefix, restricted bool, a netip.Addr) bool {
	if !restricted {
		return true
	}
	return a.IsValid() && clientip.Contains(nets, a)
}

// APIKeyPatch is the body of PATCH /admin/api-keys/{id} (JSON merge patch):
// a nil member is left as is; IPAllowlistSet with a nil IPAllowlist lifts
// the restriction.
type APIKeyPatch struct {
	Name                 *string
	IPAllowlistSet       bool
	IPAllowlist          []string
	AutoRotate           *bool
	RotationIntervalDays *int
}

// APIKeyRotation is the result of a rotation: the key and its new secret,
// shown once; the replaced secret authenticates until PreviousExpiresAt.
type APIKeyRotation struct {
	Key    *APIKey
	Secret string
}

// APIKeyEventData is the data of api_key.rotated and api_key.anomaly
// events and webhooks: never a secret.
type APIKeyEventData struct {
	ID                      int64      `json:"id"`
	UserID                  int64      `json:"user_id"`
	Name                    string     `json:"name"`
	Prefix                  string     `json:"prefix"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Automatic               bool       `json:"automatic,omitempty"`
	// SecretPending: the new secret of an automatic rotation waits to be
	// collected by an admin (POST /admin/api-keys/{id}/secret).
	SecretPending bool           `json:"secret_pending,omitempty"`
	Anomaly       *APIKeyAnomaly `json:"anomaly,omitempty"`
}

// Anomaly rules (feature 5.4).
const (
	AnomalyHighErrorRate    = "high_error_rate"
	AnomalyTrafficSpike     = "traffic_spike"
	AnomalyScanning         = "scanning_behavior"
	AnomalySuspiciousClient = "suspicious_client"
)

// AnomalyRules lists the rules, in the order they are reported.
var AnomalyRules = []string{AnomalyHighErrorRate, AnomalyTrafficSpike, AnomalyScanning, AnomalySuspiciousClient}

// APIKeyAnomaly is suspicious use of an API key, found in the audit trail. One
// anomaly per key and rule is open at a time: while the behaviour goes on,
// the open one is seen again (LastSeenAt, Occurrences); it is resolved after
// an hour without it.
type APIKeyAnomaly struct {
	ID          int64      `bun:"id,pk,autoincrement" json:"id"`
	APIKeyID    int64      `bun:"api_key_id,notnull" json:"api_key_id"`
	UserID      int64      `bun:"user_id,notnull" json:"user_id"`
	Rule        string     `bun:"rule,notnull" json:"rule"`
	Detail      string     `bun:"detail,notnull" json:"detail"`
	Observed    float64    `bun:"observed,notnull" json:"observed"`
	Threshold   float64    `bun:"threshold,notnull" json:"threshold"`
	Occurrences int        `bun:"occurrences,notnull" json:"occurrences"`
	Action      string     `bun:"action,notnull" json:"action"`
	FirstSeenAt time.Time  `bun:"first_seen_at,notnull" json:"first_seen_at"`
	LastSeenAt  time.Time  `bun:"last_seen_at,notnull" json:"last_seen_at"`
	ResolvedAt  *time.Time `bun:"resolved_at" json:"resolved_at"`
}

// AnomalyFilter narrows ListAnomalies: the last 7 days, optionally of one
// key, one rule, open ones only.
type AnomalyFilter struct {
	APIKeyID int64
	Rule     string
	OpenOnly bool
}

// Validate checks the rule name.
func (f *AnomalyFilter) Validate() error {
	var v validator
	checkEnum(&v, "rule", f.Rule, AnomalyRules)
	return v.err()
}

// AnomalyWindow is how far back ListAnomalies looks.
const AnomalyWindow = 7 * 24 * time.Hour

// APIKeySecurityService is the admin use cases of key security. Every
// method needs the admin scope held by an admin.
type APIKeySecurityService interface {
	// RotateAPIKey draws a new secret for the key, returned once; the
	// replaced secret keeps authenticating for the grace period. Two
	// rotations at once produce one new secret: the other gets ErrConflict.
	// Errors: ErrNotFound, ErrConflict (revoked, or rotated moments ago).
	RotateAPIKey(ctx context.Context, id int64) (*APIKeyRotation, error)
	// PatchAPIKey changes the name, allow-list or automatic rotation.
	// Errors: ErrNotFound, ErrInvalid, ErrPrecondition.
	PatchAPIKey(ctx context.Context, id int64, p APIKeyPatch, ifVersion *int64) (*APIKey, error)
	// CollectAPIKeySecret returns, once, the secret drawn by the last
	// automatic rotation of the key. Errors: ErrNotFound (no such key, or
	// no secret waiting).
	CollectAPIKeySecret(ctx context.Context, id int64) (*APIKeyRotation, error)
	// ListAnomalies lists the anomalies seen in the last 7 days, newest
	// first (at most 1,000).
	ListAnomalies(ctx context.Context, f AnomalyFilter) ([]APIKeyAnomaly, error)
}
