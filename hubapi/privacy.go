package hubapi

import (
	"context"
	"encoding/json"
	"net/mail"
	"strings"
	"time"
)

// The GDPR rights of the people whose data the product holds (docs/PRIVACY.md):
// access and portability (ExportMe), rectification (UpdateMe, VerifyMyEmail)
// and erasure (EraseUser).

// UserUpdate is what a user may change of their own account: the members
// of a PATCH /users/me merge patch.
type UserUpdate struct {
	Nom    string `json:"nom"`
	Prenom string `json:"prenom"`
	Email  string `json:"email"`
}

// Validate checks the update (the e-mail is trimmed and lower-cased first).
func (in *UserUpdate) Validate() error {
	var v validator
	in.Email = strings.TrimSpace(strings.ToLower(in.Email))
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 || TextProblem(in.Email) != "" {
		v.add("email", "must be a valid e-mail address")
	}
	checkText(&v, "nom", in.Nom, 0, 100)
	checkText(&v, "prenom", in.Prenom, 0, 100)
	return v.err()
}

// EmailVerificationTTL is how long an e-mail verification token is valid.
const EmailVerificationTTL = 24 * time.Hour

// Export sections, in the order ExportMe writes them. Each is a list.
const (
	ExportPointages            = "pointages"
	ExportAffectations         = "affectations"
	ExportDocuments            = "documents"
	ExportSignalements         = "signalements"
	ExportAPIKeys              = "api_keys"
	ExportOAuthAuthorizations  = "oauth_authorizations"
	ExportWebhookSubscriptions = "webhook_subscriptions"
	ExportAuditEvents          = "audit_events"
)

// ExportSections lists the sections of an export, in order.
var ExportSections = []string{ExportPointages, ExportAffectations, ExportDocuments, ExportSignalements,
	ExportAPIKeys, ExportOAuthAuthorizations, ExportWebhookSubscriptions, ExportAuditEvents}

// ExportSink receives an export as it is read, so that a long history is
// streamed in bounded memory: Profile first, then each section of
// ExportSections in order, each as Begin, its items, End. Items are
// *Pointage, *Affectation, *Document, *Signalement, *APIKey,
// *OAuthAuthorization, *WebhookSubscription and json.RawMessage (an audit
// event as the audit trail gives it).
type ExportSink interface {
	Profile(u *User) error
	Begin(section string) error
	Item(v any) error
	End() error
}

// PrivacyService serves the GDPR rights. Errors: ErrUnauthenticated,
// ErrForbidden, and those listed.
//
// ExportMe, UpdateMe and VerifyMyEmail serve the caller's own account and
// need no scope; they refuse OAuth access tokens (ErrForbidden): an
// application a user authorised for some scopes must not read the whole
// archive nor change the address the user logs in with. EraseUser is for
// admins holding the admin scope.
type PrivacyService interface {
	// ExportMe writes everything held about the caller to sink, section
	// by section (ExportSink). An error after the profile leaves the
	// export incomplete: the adapter must not present it as complete.
	ExportMe(ctx context.Context, sink ExportSink) error
	// UpdateMe changes the caller's nom, prénom and e-mail (change gets
	// the current values). A new e-mail is not taken at once: it is kept
	// pending and a verification token is mailed to it; VerifyMyEmail
	// switches to it. ifVersion 0 is unconditional. Errors: ErrInvalid
	// (also when the server cannot send e-mail and the e-mail changes),
	// ErrConflict (e-mail taken), ErrPrecondition, ErrUnavailable (the
	// verification could not be mailed; nothing was changed).
	UpdateMe(ctx context.Context, change func(current UserUpdate) (UserUpdate, error), ifVersion int64) (*User, error)
	// VerifyMyEmail switches the caller's e-mail to the pending one when
	// token is the one mailed to it and has not expired. Errors:
	// ErrInvalid (no pending change, wrong or expired token), ErrConflict
	// (e-mail taken meanwhile).
	VerifyMyEmail(ctx context.Context, token string) (*User, error)
	// EraseUser anonymises a user (docs/PRIVACY.md): identity and the free
	// texts they wrote are replaced, pointages kept pseudonymised, keys,
	// OAuth grants and tokens revoked, webhook subscriptions disabled, the
	// audit trail's IPs and user agents anonymised; it publishes
	// EventUserErased. Erasing an erased user again succeeds.
	// Errors: ErrNotFound, ErrConflict (an admin erasing themselves).
	EraseUser(ctx context.Context, id int64) error
}

// AuditTrail is what the GDPR rights need of the audit log: the events of
// one user, and the anonymisation of their IPs and user agents. Nil when
// no audit trail is wired: exports then hold no audit event.
type AuditTrail interface {
	// UserEvents returns up to limit events whose actor is the user, after
	// the position cursor ("" for the first page), each as its JSON
	// representation, and the cursor of the next page ("" after the last).
	UserEvents(ctx context.Context, userID int64, cursor string, limit int) (events []json.RawMessage, next string, err error)
	// AnonymiseUser anonymises the client IPs and drops the user agents of
	// every event of the user, now.
	AnonymiseUser(ctx context.Context, userID int64) error
}

// OAuthGrants is what the GDPR rights need of the OAuth authorization
// server: the applications a user authorised, and forgetting them all.
type OAuthGrants interface {
	// UserAuthorizations lists the applications the user authorised.
	UserAuthorizations(ctx context.Context, userID int64) ([]OAuthAuthorization, error)
	// RevokeUser revokes every token of the user and forgets their
	// consents and pending authorization codes.
	RevokeUser(ctx context.Context, userID int64) error
}
