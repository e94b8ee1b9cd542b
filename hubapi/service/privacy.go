package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/notify"
)

// WithNotifier sets how e-mail verifications are sent (PATCH /users/me
// with a new e-mail). Without one, users cannot change their e-mail.
func WithNotifier(n notify.Notifier) Option { return func(d *deps) { d.notifier = n } }

// WithAuditTrail sets the audit log that exports read and erasures
// anonymise (nil: none; exports hold no audit event).
func WithAuditTrail(a hubapi.AuditTrail) Option { return func(d *deps) { d.auditTrail = a } }

// WithOAuthGrants sets the OAuth server whose grants exports list and
// erasures revoke (nil: none).
func WithOAuthGrants(g hubapi.OAuthGrants) Option { return func(d *deps) { d.grants = g } }

// WithLogger sets where the use cases log what they cannot report to the
// caller (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.log = l } }

// exportBatch is how many rows an export reads per query: an export's
// memory is bounded by one batch, whatever the length of the history.
const exportBatch = 500

// Erased values (docs/PRIVACY.md).
const (
	erasedNom          = "Anonyme"
	erasedSignalement  = "Signalement anonymisé"
	erasedAPIKeyName   = "clé révoquée (personne effacée)" // #nosec G101 -- the label an erased person's keys get, not a credential
	erasedWebhookURL   = "https://erased.invalid/"
	erasedWebhookCause = "owner erased"
)

// erasedEmail is the e-mail of an erased user: unique, and in a reserved
// domain (RFC 2606) that receives no mail.
func erasedEmail(id int64) string { return "erased-" + strconv.FormatInt(id, 10) + "@erased.invalid" }

// self returns the caller of a use case on their own account: any
// authenticated principal, but not an OAuth application (see
// hubapi.PrivacyService).
func self(ctx context.Context) (*hubapi.Principal, error) {
	p, err := allow(ctx, hubapi.ResourceUsers, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	if p.ClientID != "" {
		return nil, hubapi.Errorf(hubapi.ErrForbidden, "this operation needs the person's own API key: OAuth applications may not use it")
	}
	return p, nil
}

// ExportMe implements hubapi.PrivacyService.
func (s *Service) ExportMe(ctx context.Context, sink hubapi.ExportSink) error {
	p, err := self(ctx)
	if err != nil {
		return err
	}
	db := s.idb(ctx)
	u, err := store.Get[hubapi.User](ctx, db, p.UserID)
	if err != nil {
		return err
	}
	if err := sink.Profile(u); err != nil {
		return err
	}
	id := p.UserID
	steps := []func() error{
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportPointages, func(m *hubapi.Pointage) int64 { return m.ID }, "?TableAlias.user_id = ?", id)
		},
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportAffectations, func(m *hubapi.Affectation) int64 { return m.ID }, "?TableAlias.user_id = ?", id)
		},
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportDocuments, func(m *hubapi.Document) int64 { return m.ID }, "?TableAlias.uploaded_by = ?", id)
		},
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportSignalements, func(m *hubapi.Signalement) int64 { return m.ID },
				"(?TableAlias.created_by = ? OR ?TableAlias.assigned_to = ?)", id, id)
		},
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportAPIKeys, func(m *hubapi.APIKey) int64 { return m.ID }, "?TableAlias.user_id = ?", id)
		},
		func() error { return s.exportAuthorizations(ctx, sink, id) },
		func() error {
			return exportRows(ctx, db, sink, hubapi.ExportWebhookSubscriptions, func(m *hubapi.WebhookSubscription) int64 { return m.ID },
				"?TableAlias.user_id = ?", id)
		},
		func() error { return s.exportAudit(ctx, sink, id) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// exportRows writes one section: the rows of T matching where, by id, one
// batch per query.
func exportRows[T any](ctx context.Context, db bun.IDB, sink hubapi.ExportSink, section string, id func(*T) int64, where string, args ...any) error {
	if err := sink.Begin(section); err != nil {
		return err
	}
	var after int64
	for {
		rows := make([]T, 0, exportBatch)
		err := db.NewSelect().Model(&rows).Where(where, args...).Where("?TableAlias.id > ?", after).
			OrderExpr("?TableAlias.id").Limit(exportBatch).Scan(ctx)
		if err != nil {
			return err
		}
		for i := range rows {
			if err := sink.Item(&rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < exportBatch {
			break
		}
		after = id(&rows[len(rows)-1])
	}
	return sink.End()
}

func (s *deps) exportAuthorizations(ctx context.Context, sink hubapi.ExportSink, userID int64) error {
	if err := sink.Begin(hubapi.ExportOAuthAuthorizations); err != nil {
		return err
	}
	if s.grants != nil {
		list, err := s.grants.UserAuthorizations(ctx, userID)
		if err != nil {
			return err
		}
		for i := range list {
			if err := sink.Item(&list[i]); err != nil {
				return err
			}
		}
	}
	return sink.End()
}

func (s *deps) exportAudit(ctx context.Context, sink hubapi.ExportSink, userID int64) error {
	if err := sink.Begin(hubapi.ExportAuditEvents); err != nil {
		return err
	}
	if s.auditTrail != nil {
		cursor := ""
		for {
			events, next, err := s.auditTrail.UserEvents(ctx, userID, cursor, exportBatch)
			if err != nil {
				return err
			}
			for _, e := range events {
				if err := sink.Item(e); err != nil {
					return err
				}
			}
			if next == "" || next == cursor {
				break
			}
			cursor = next
		}
	}
	return sink.End()
}

// newEmailToken draws an e-mail verification token: "hcv_" + 43
// characters (32 random bytes, base64url).
func newEmailToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "hcv_" + base64.RawURLEncoding.EncodeToString(b)
}

// hashEmailToken is the stored form of a token: hex SHA-256 (the token has
// 256 bits of entropy: nothing to brute-force, a fast hash is right).
func hashEmailToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// maxEmailToken bounds the token a caller may present.
const maxEmailToken = 100

// UpdateMe implements hubapi.PrivacyService.
func (s *Service) UpdateMe(ctx context.Context, change func(hubapi.UserUpdate) (hubapi.UserUpdate, error), ifVersion int64) (*hubapi.User, error) {
	p, err := self(ctx)
	if err != nil {
		return nil, err
	}
	var out *hubapi.User
	var token, to string
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		u, err := store.GetForUpdate[hubapi.User](ctx, tx, p.UserID)
		if err != nil {
			return err
		}
		if err := checkVersion(u.Version, ifVersion); err != nil {
			return err
		}
		in, err := change(hubapi.UserUpdate{Nom: u.Nom, Prenom: u.Prenom, Email: u.Email})
		if err != nil {
			return err
		}
		if err := in.Validate(); err != nil {
			return err
		}
		if in.Nom == u.Nom && in.Prenom == u.Prenom && in.Email == u.Email {
			out = u
			return nil
		}
		u.Nom, u.Prenom = in.Nom, in.Prenom
		if in.Email != u.Email {
			if s.notifier == nil {
				return &hubapi.ValidationError{Fields: map[string]string{
					"email": "cannot be changed here: this server sends no e-mail to verify the new address; ask an administrator"}}
			}
			if err := emailFree(ctx, tx, in.Email, u.ID); err != nil {
				return err
			}
			token, to = newEmailToken(), in.Email
			exp := s.now().Add(hubapi.EmailVerificationTTL)
			u.PendingEmail, u.EmailTokenHash, u.EmailTokenExpiresAt = in.Email, hashEmailToken(token), &exp
		}
		old := u.Version
		u.Version++
		u.UpdatedAt = s.now()
		if err := store.UpdateVersioned(ctx, tx, u, u.ID, old); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	if to != "" {
		if err := s.sendVerification(ctx, to, token); err != nil {
			// Nobody can verify a token that was not delivered: forget it
			// (unless a newer request replaced it meanwhile).
			_, _ = s.idb(ctx).NewUpdate().Model((*hubapi.User)(nil)).
				Set("pending_email = ''").Set("email_token_hash = ''").Set("email_token_expires_at = NULL").
				Where("id = ?", out.ID).Where("email_token_hash = ?", out.EmailTokenHash).Exec(ctx)
			s.log.WarnContext(ctx, "e-mail verification not sent", slog.String("error", err.Error()))
			return nil, hubapi.Errorf(hubapi.ErrUnavailable, "the verification e-mail could not be sent; the e-mail is unchanged")
		}
	}
	return out, nil
}

// emailFree reports ErrConflict when another user has the e-mail.
func emailFree(ctx context.Context, db bun.IDB, email string, self int64) error {
	taken, err := db.NewSelect().Model((*hubapi.User)(nil)).Where("email = ?", email).Where("id <> ?", self).Exists(ctx)
	if err != nil {
		return err
	}
	if taken {
		return hubapi.Errorf(hubapi.ErrConflict, "another account has this e-mail")
	}
	return nil
}

// sendVerification mails the token to the new address (never logged).
func (s *deps) sendVerification(ctx context.Context, to, token string) error {
	return s.notifier.Send(ctx, notify.Message{To: []string{to},
		Subject: "Hub Chantier : confirmez votre nouvelle adresse e-mail",
		Text: "Bonjour,\n\nUne demande de changement d'adresse e-mail de votre compte Hub Chantier vers cette adresse a été faite.\n\n" +
			"Pour la confirmer, envoyez ce code dans les " + strconv.Itoa(int(hubapi.EmailVerificationTTL.Hours())) + " heures :\n\n" +
			"    " + token + "\n\n" +
			"POST /api/v1/users/me/email/verify {\"token\": \"<code>\"}, avec votre clé d'API.\n\n" +
			"Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre adresse ne change pas.\n"})
}

// VerifyMyEmail implements hubapi.PrivacyService. The token is compared by
// its hash, in constant time.
func (s *Service) VerifyMyEmail(ctx context.Context, token string) (*hubapi.User, error) {
	p, err := self(ctx)
	if err != nil {
		return nil, err
	}
	invalid := &hubapi.ValidationError{Fields: map[string]string{"token": "invalid or expired verification code"}} // #nosec G101 -- a field error message, not a credential
	if token == "" || len(token) > maxEmailToken {
		return nil, invalid
	}
	var out *hubapi.User
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		u, err := store.GetForUpdate[hubapi.User](ctx, tx, p.UserID)
		if err != nil {
			return err
		}
		ok := subtle.ConstantTimeCompare([]byte(hashEmailToken(token)), []byte(u.EmailTokenHash)) == 1
		if !ok || u.PendingEmail == "" || u.EmailTokenExpiresAt == nil || !s.now().Before(*u.EmailTokenExpiresAt) {
			return invalid
		}
		if err := emailFree(ctx, tx, u.PendingEmail, u.ID); err != nil {
			return err
		}
		old := u.Version
		u.Email, u.PendingEmail, u.EmailTokenHash, u.EmailTokenExpiresAt = u.PendingEmail, "", "", nil
		u.Version++
		u.UpdatedAt = s.now()
		if err := store.UpdateVersioned(ctx, tx, u, u.ID, old); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Cached authentications carry the old e-mail.
	s.afterCommit(ctx, func() { NewOperator(s).ForgetUser(p.UserID) })
	return out, nil
}

// EraseUser implements hubapi.PrivacyService (admins holding the admin
// scope). In one transaction: the user's identity, the free texts they
// wrote and the copies of them in recorded events are replaced; keys are
// revoked and webhook subscriptions disabled; EventUserErased is recorded.
// After the commit: cached authentications are dropped (every instance,
// through the event), OAuth grants revoked and the audit trail anonymised.
func (s *Service) EraseUser(ctx context.Context, id int64) error {
	p := hubapi.PrincipalFrom(ctx)
	if p == nil {
		return hubapi.ErrUnauthenticated
	}
	if !p.IsAdmin() {
		return hubapi.Errorf(hubapi.ErrForbidden, "erasing a user is for administrators holding the admin scope")
	}
	if id == p.UserID {
		return hubapi.Errorf(hubapi.ErrConflict, "an administrator cannot erase their own account")
	}
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		u, err := store.GetForUpdate[hubapi.User](ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.eraseRows(ctx, tx, u); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventUserErased, string(hubapi.ResourceUsers), id, nil)
	})
	if err != nil {
		return err
	}
	s.afterCommit(ctx, func() { NewOperator(s).ForgetUser(id) })
	if unitOfWorkFrom(ctx) != nil {
		// In a batch: after its commit, never after a rollback; a failure
		// is logged (erasing again completes it).
		s.afterCommit(ctx, func() {
			if err := s.eraseOutside(context.WithoutCancel(ctx), id); err != nil {
				s.log.ErrorContext(ctx, "erasure incomplete", slog.String("error", err.Error()))
			}
		})
		return nil
	}
	return s.eraseOutside(ctx, id)
}

// eraseOutside does the part of an erasure kept outside the database's
// transaction: the OAuth server's grants and the audit trail.
func (s *deps) eraseOutside(ctx context.Context, id int64) error {
	if s.grants != nil {
		if err := s.grants.RevokeUser(ctx, id); err != nil {
			return fmt.Errorf("revoking the OAuth grants of user %d: %w", id, err)
		}
	}
	if s.auditTrail != nil {
		if err := s.auditTrail.AnonymiseUser(ctx, id); err != nil {
			return fmt.Errorf("anonymising the audit trail of user %d: %w", id, err)
		}
	}
	return nil
}

// eraseRows anonymises the rows of user u in tx.
func (s *deps) eraseRows(ctx context.Context, tx bun.Tx, u *hubapi.User) error {
	now := s.now()
	id := u.ID
	disabledAt := u.DisabledAt
	if disabledAt == nil {
		disabledAt = &now
	}
	_, err := tx.NewUpdate().Model((*hubapi.User)(nil)).Where("id = ?", id).
		Set("email = ?", erasedEmail(id)).Set("nom = ?", erasedNom).Set("prenom = ''").Set("password_hash = ''").
		Set("pending_email = ''").Set("email_token_hash = ''").Set("email_token_expires_at = NULL").
		Set("disabled_at = ?", *disabledAt).Set("erased_at = ?", now).
		Set("updated_at = ?", now).Set("version = version + 1").Exec(ctx)
	if err != nil {
		return err
	}
	// Pointages are kept for the payroll retention period, pseudonymised:
	// the hours stay, the comment goes.
	for _, q := range []*bun.UpdateQuery{
		tx.NewUpdate().Model((*hubapi.Pointage)(nil)).Set("commentaire = ''").Where("user_id = ?", id).Where("commentaire <> ''"),
		tx.NewUpdate().Model((*hubapi.Affectation)(nil)).Set("note = ''").Where("user_id = ?", id).Where("note <> ''"),
		tx.NewUpdate().Model((*hubapi.Signalement)(nil)).Set("titre = ?", erasedSignalement).Set("description = ''").
			Where("created_by = ?", id),
	} {
		if _, err := q.Set("updated_at = ?", now).Set("version = version + 1").Exec(ctx); err != nil {
			return err
		}
	}
	_, err = tx.NewUpdate().Model((*hubapi.APIKey)(nil)).Where("user_id = ?", id).
		Set("name = ?", erasedAPIKeyName).Set("revoked_at = COALESCE(revoked_at, ?)", now).
		Set("updated_at = ?", now).Set("version = version + 1").Exec(ctx)
	if err != nil {
		return err
	}
	// The user's subscriptions: disabled, their target and description
	// (the user's words) replaced, their delivery log dropped.
	_, err = tx.NewUpdate().Model((*hubapi.WebhookSubscription)(nil)).Where("user_id = ?", id).
		Set("enabled = ?", false).Set("url = ?", erasedWebhookURL).Set("description = ''").
		Set("disabled_reason = ?", erasedWebhookCause).Set("updated_at = ?", now).Set("version = version + 1").Exec(ctx)
	if err != nil {
		return err
	}
	own := tx.NewSelect().Model((*hubapi.WebhookSubscription)(nil)).Column("id").Where("user_id = ?", id)
	deliveries := tx.NewSelect().Model((*hubapi.WebhookDelivery)(nil)).Column("id").Where("subscription_id IN (?)", own)
	if _, err := tx.NewDelete().Model((*hubapi.WebhookAttempt)(nil)).Where("delivery_id IN (?)", deliveries).Exec(ctx); err != nil {
		return err
	}
	if _, err := tx.NewDelete().Model((*hubapi.WebhookDelivery)(nil)).Where("subscription_id IN (?)", own).Exec(ctx); err != nil {
		return err
	}
	if err := scrubEventJobs(ctx, tx, id); err != nil {
		return err
	}
	return scrubDeliveries(ctx, tx, id)
}

// personalEvent tells whether the data of an event of resource holds the
// words of user id: their pointages, affectations and webhook
// subscriptions (user_id), the signalements they created (created_by).
func personalEvent(resource string, data json.RawMessage, id int64) bool {
	if len(data) == 0 {
		return false
	}
	var o struct {
		UserID    *int64 `json:"user_id"`
		CreatedBy *int64 `json:"created_by"`
	}
	if json.Unmarshal(data, &o) != nil {
		return false
	}
	switch resource {
	case string(hubapi.ResourcePointages), string(hubapi.ResourceAffectations), string(hubapi.ResourceWebhooks):
		return o.UserID != nil && *o.UserID == id
	case string(hubapi.ResourceSignalements):
		return o.CreatedBy != nil && *o.CreatedBy == id
	}
	return false
}

// scrubEventJobs drops the data (the resource after the change) of the
// recorded domain events about the user's rows, done or still to run:
// River's job rows would otherwise keep copies of the erased texts until
// they are cleaned. A job still to run then carries the id only, as a
// deletion does.
func scrubEventJobs(ctx context.Context, tx bun.Tx, id int64) error {
	pg := tx.Dialect().Name() == dialect.PG
	var resourceExpr, dataExpr string
	if pg {
		resourceExpr, dataExpr = "args->>'resource'", "(args->'data')::text"
	} else {
		resourceExpr, dataExpr = "json_extract(args, '$.resource')", "json(json_extract(args, '$.data'))"
	}
	var after int64
	for {
		var rows []struct {
			ID       int64  `bun:"id"`
			Resource string `bun:"resource"`
			Data     string `bun:"data"`
		}
		err := tx.NewSelect().TableExpr("river_job").Column("id").
			ColumnExpr(resourceExpr+" AS resource").ColumnExpr("COALESCE("+dataExpr+", '') AS data").
			Where("kind = 'event'").Where("id > ?", after).
			Where(resourceExpr+" IN (?)", bun.List([]string{"pointages", "affectations", "webhooks", "signalements"})).
			OrderExpr("id").Limit(exportBatch).Scan(ctx, &rows)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return fmt.Errorf("reading event jobs: %w", err)
		}
		var hit []int64
		for _, r := range rows {
			if personalEvent(r.Resource, json.RawMessage(r.Data), id) {
				hit = append(hit, r.ID)
			}
		}
		if len(hit) > 0 {
			set := "args = args - 'data'"
			if !pg {
				set = "args = jsonb_remove(args, '$.data')"
			}
			if _, err := tx.NewUpdate().TableExpr("river_job").Set(set).Where("id IN (?)", bun.List(hit)).Exec(ctx); err != nil {
				return fmt.Errorf("scrubbing event jobs: %w", err)
			}
		}
		if len(rows) < exportBatch {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// scrubDeliveries replaces, in the webhook deliveries of every
// subscription, the data of the events about the user's rows by their id:
// the delivery log keeps what was sent when, not the erased texts.
func scrubDeliveries(ctx context.Context, tx bun.Tx, id int64) error {
	n := strconv.FormatInt(id, 10)
	var after int64
	for {
		var rows []hubapi.WebhookDelivery
		err := tx.NewSelect().Model(&rows).Column("id", "event_type", "payload").Where("id > ?", after).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				// a cheap filter; personalEvent decides
				return q.Where("payload LIKE ?", `%"user_id":`+n+`%`).WhereOr("payload LIKE ?", `%"created_by":`+n+`%`)
			}).OrderExpr("id").Limit(exportBatch).Scan(ctx)
		if err != nil {
			return fmt.Errorf("reading webhook deliveries: %w", err)
		}
		for _, d := range rows {
			var p struct {
				Type      string          `json:"type"`
				Timestamp json.RawMessage `json:"timestamp"`
				Data      json.RawMessage `json:"data"`
			}
			if json.Unmarshal([]byte(d.Payload), &p) != nil {
				continue
			}
			resource, _, _ := strings.Cut(p.Type, ".")
			resource += "s"
			if resource == "webhooks" || !personalEvent(resource, p.Data, id) {
				continue // webhook.* events reach their owner only: dropped above
			}
			var ref struct {
				ID int64 `json:"id"`
			}
			_ = json.Unmarshal(p.Data, &ref)
			p.Data, _ = json.Marshal(ref)
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if _, err := tx.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).Set("payload = ?", string(b)).
				Where("id = ?", d.ID).Exec(ctx); err != nil {
				return fmt.Errorf("scrubbing a webhook delivery: %w", err)
			}
		}
		if len(rows) < exportBatch {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
