package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/notify"
)

// rotationDebounce is how soon after a rotation another one is refused
// (409): two rotations sent at once produce one new secret, and a retried
// request does not end the grace period of the secret rotated a moment
// ago.
const rotationDebounce = time.Minute

// WithRotationGrace sets how long a secret replaced by a rotation keeps
// authenticating (default hubapi.DefaultRotationGrace).
func WithRotationGrace(d time.Duration) Option { return func(s *deps) { s.rotationGrace = d } }

// WithAPIKeyPage sets the URL of the page that documents the keys, linked
// from the mail of a rotation (the REST layer links the Deprecation header).
func WithAPIKeyPage(url string) Option { return func(s *deps) { s.keyPage = url } }

func (s *deps) grace() time.Duration {
	if s.rotationGrace > 0 {
		return s.rotationGrace
	}
	return hubapi.DefaultRotationGrace
}

// errNotDue: the automatic rotation found the key rotated since it was
// listed.
var errNotDue = errors.New("not due")

// RotateAPIKey implements hubapi.APIKeySecurityService (admin only).
func (s *Service) RotateAPIKey(ctx context.Context, id int64) (*hubapi.APIKeyRotation, error) {
	p, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	return s.rotateAPIKey(ctx, p, id, false)
}

// RotateAPIKeyByID rotates a key without checking a caller (the CLI).
func (s *Operator) RotateAPIKeyByID(ctx context.Context, id int64) (*hubapi.APIKeyRotation, error) {
	return s.rotateAPIKey(ctx, nil, id, false)
}

// rotationDue reports whether the automatic rotation of k is due at now.
func rotationDue(k *hubapi.APIKey, now time.Time) bool {
	if !k.AutoRotate || !k.Active(now) {
		return false
	}
	since := k.CreatedAt
	if k.LastRotatedAt != nil {
		since = *k.LastRotatedAt
	}
	days := k.RotationIntervalDays
	if days <= 0 {
		days = hubapi.DefaultRotationIntervalDays
	}
	return !now.Before(since.AddDate(0, 0, days))
}

// rotateAPIKey draws a new secret for key id in one transaction: the row is
// locked, the current secret becomes the previous one (accepted until the
// end of the grace period), and api_key.rotated is recorded in the outbox.
// automatic rotations only rotate a key still due.
func (s *deps) rotateAPIKey(ctx context.Context, p *hubapi.Principal, id int64, automatic bool) (*hubapi.APIKeyRotation, error) {
	secret, err := hubapi.NewAPIKeySecret()
	if err != nil {
		return nil, err
	}
	now := s.now()
	var k *hubapi.APIKey
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := store.GetForUpdate[hubapi.APIKey](ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case automatic && !rotationDue(cur, now):
			return errNotDue
		case cur.RevokedAt != nil:
			return hubapi.Errorf(hubapi.ErrConflict, "the API key is revoked")
		case !cur.Active(now):
			return hubapi.Errorf(hubapi.ErrConflict, "the API key has expired")
		case cur.LastRotatedAt != nil && now.Sub(*cur.LastRotatedAt) < rotationDebounce:
			return hubapi.Errorf(hubapi.ErrConflict, "the API key was rotated at %s; wait a minute before rotating it again",
				cur.LastRotatedAt.Format(time.RFC3339))
		}
		noteBefore(ctx, "api_keys", id, cur)
		old := cur.Version
		if cur.PendingSecretSealed == nil {
			prev, until := cur.Hash, now.Add(s.grace())
			cur.PreviousHash, cur.PreviousExpiresAt = &prev, &until
		}
		// else the current secret was drawn by an automatic rotation and
		// never shown: the secret the client holds is still the previous
		// one, which keeps its grace period.
		cur.Hash, cur.Prefix = hubapi.HashAPIKey(secret), hubapi.APIKeyDisplayPrefix(secret)
		cur.PendingSecretKeyID, cur.PendingSecretSealed = nil, nil
		if automatic {
			// shown to nobody yet: sealed until an admin collects it
			kid, sealed, err := s.secrets.Seal([]byte(secret), apiKeySecretAD(id))
			if err != nil {
				return err
			}
			cur.PendingSecretKeyID, cur.PendingSecretSealed = &kid, sealed
		}
		cur.LastRotatedAt = &now
		cur.UpdatedAt, cur.Version = now, old+1
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		k = cur
		return s.emit(ctx, tx, p, hubapi.EventAPIKeyRotated, "api_keys", id, rotatedData(cur, automatic))
	})
	if err != nil {
		return nil, err
	}
	s.forgetKey(id)
	s.mailRotation(ctx, k, automatic)
	return &hubapi.APIKeyRotation{Key: k, Secret: secret}, nil
}

func rotatedData(k *hubapi.APIKey, automatic bool) hubapi.APIKeyEventData {
	return hubapi.APIKeyEventData{ID: k.ID, UserID: k.UserID, Name: k.Name, Prefix: k.Prefix,
		PreviousSecretExpiresAt: k.PreviousExpiresAt, Automatic: automatic, SecretPending: k.PendingSecretSealed != nil}
}

// apiKeySecretAD binds the sealed pending secret of key id to its row.
func apiKeySecretAD(id int64) []byte { return []byte("api_key:" + strconv.FormatInt(id, 10)) }

// CollectAPIKeySecret implements hubapi.APIKeySecurityService (admin
// only): the secret of an automatic rotation, opened and erased in one
// transaction, so that it is returned once.
func (s *Service) CollectAPIKeySecret(ctx context.Context, id int64) (*hubapi.APIKeyRotation, error) {
	if _, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionChange); err != nil {
		return nil, err
	}
	var out *hubapi.APIKeyRotation
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := store.GetForUpdate[hubapi.APIKey](ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.PendingSecretSealed == nil || cur.PendingSecretKeyID == nil {
			return hubapi.Errorf(hubapi.ErrNotFound, "no secret of an automatic rotation waits to be collected")
		}
		secret, err := s.secrets.Open(*cur.PendingSecretKeyID, cur.PendingSecretSealed, apiKeySecretAD(id))
		if err != nil {
			// sealed under a key no longer configured: rotate by hand
			return hubapi.Errorf(hubapi.ErrConflict, "the waiting secret cannot be opened with the configured secret keys; rotate the key")
		}
		old := cur.Version
		cur.PendingSecretKeyID, cur.PendingSecretSealed = nil, nil
		cur.UpdatedAt, cur.Version = s.now(), old+1
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		s.recordChange(ctx, "collect_api_key_secret", "api_keys", id, map[string]any{"collected": true})
		out = &hubapi.APIKeyRotation{Key: cur, Secret: string(secret)}
		return nil
	})
	return out, err
}

// mailRotation tells the key's owner, when a notifier is set. A failure is
// logged: the rotation is done and its webhook recorded.
func (s *deps) mailRotation(ctx context.Context, k *hubapi.APIKey, automatic bool) {
	if s.notifier == nil {
		return
	}
	var owner hubapi.User
	if err := s.db.NewSelect().Model(&owner).Column("id", "email").Where("id = ?", k.UserID).Scan(ctx); err != nil || owner.Email == "" {
		return
	}
	how := "by an administrator"
	if automatic {
		how = "automatically"
	}
	text := fmt.Sprintf("Your API key %q (%s…) was rotated %s.\n\n"+
		"The previous secret keeps working until %s; requests made with it carry a Deprecation header. "+
		"Replace it with the new secret before then.\n",
		k.Name, k.Prefix, how, k.PreviousExpiresAt.Format(time.RFC3339))
	if k.PendingSecretSealed != nil {
		text += fmt.Sprintf("\nThe new secret is not sent by mail: ask an administrator to collect it "+
			"(POST /api/v1/admin/api-keys/%d/secret; it is shown once).\n", k.ID)
	}
	if s.keyPage != "" {
		text += "\nMore: " + s.keyPage + "\n"
	}
	if err := s.notifier.Send(ctx, notify.Message{To: []string{owner.Email}, Subject: "API key rotated", Text: text}); err != nil {
		s.log.WarnContext(ctx, "api key rotated: mail not sent", slog.Int64("api_key", k.ID), slog.String("error", err.Error()))
	}
}

// RotateDueAPIKeys rotates every key whose automatic rotation is due (the
// daily job). A key rotated meanwhile (by hand, or by another instance) is
// left alone. It returns how many keys it rotated.
func (s *Operator) RotateDueAPIKeys(ctx context.Context) (int, error) {
	var keys []hubapi.APIKey
	if err := s.db.NewSelect().Model(&keys).Where("auto_rotate").Where("revoked_at IS NULL").Order("id").Scan(ctx); err != nil {
		return 0, err
	}
	now, n := s.now(), 0
	var errs []error
	for i := range keys {
		if !rotationDue(&keys[i], now) {
			continue
		}
		switch _, err := s.rotateAPIKey(ctx, nil, keys[i].ID, true); {
		case err == nil:
			n++
		case errors.Is(err, errNotDue), errors.Is(err, hubapi.ErrNotFound), errors.Is(err, hubapi.ErrConflict):
		default:
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// PatchAPIKey implements hubapi.APIKeySecurityService (admin only).
func (s *Service) PatchAPIKey(ctx context.Context, id int64, patch hubapi.APIKeyPatch, ifVersion *int64) (*hubapi.APIKey, error) {
	p, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	if err := patch.Validate(); err != nil {
		return nil, err
	}
	var out *hubapi.APIKey
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := store.GetForUpdate[hubapi.APIKey](ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur.Version, versionOf(ifVersion)); err != nil {
			return err
		}
		noteBefore(ctx, "api_keys", id, cur)
		if patch.Name != nil {
			cur.Name = *patch.Name
		}
		if patch.IPAllowlistSet {
			cur.IPAllowlist, _ = hubapi.ParseIPAllowlist(patch.IPAllowlist) // checked by Validate
		}
		if patch.AutoRotate != nil {
			cur.AutoRotate = *patch.AutoRotate
		}
		if patch.RotationIntervalDays != nil {
			cur.RotationIntervalDays = *patch.RotationIntervalDays
		}
		old := cur.Version
		cur.Version, cur.UpdatedAt = old+1, s.now()
		s.recordChange(ctx, "update_api_key", "api_keys", id, map[string]any{"name": cur.Name,
			"ip_allowlist": cur.IPAllowlist, "auto_rotate": cur.AutoRotate, "rotation_interval_days": cur.RotationIntervalDays})
		out = cur
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	// the cached authentications hold the old allow-list
	s.forgetKey(id)
	s.announce(ctx, p, hubapi.EventAPIKeyChanged, "api_keys", id)
	return out, nil
}

// ListAnomalies implements hubapi.APIKeySecurityService (admin only).
func (s *Service) ListAnomalies(ctx context.Context, f hubapi.AnomalyFilter) ([]hubapi.APIKeyAnomaly, error) {
	if _, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	audit.Describe(ctx, "read_api_key_anomalies", "api_key_anomalies", "")
	var out []hubapi.APIKeyAnomaly
	q := s.idb(ctx).NewSelect().Model(&out).Where("last_seen_at >= ?", s.now().Add(-hubapi.AnomalyWindow)).
		OrderExpr("last_seen_at DESC, id DESC").Limit(1000)
	if f.APIKeyID != 0 {
		q = q.Where("api_key_id = ?", f.APIKeyID)
	}
	if f.Rule != "" {
		q = q.Where("rule = ?", f.Rule)
	}
	if f.OpenOnly {
		q = q.Where("resolved_at IS NULL")
	}
	if err := q.Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if out == nil {
		out = []hubapi.APIKeyAnomaly{}
	}
	return out, nil
}
