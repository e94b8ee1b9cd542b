package service

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"maps"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// lastUsedResolution throttles last_used_at writes: one per key per minute.
const lastUsedResolution = time.Minute

// Authenticate implements hubapi.Authenticator. Malformed keys are rejected
// before any database access (prefix, alphabet and checksum). The lookup is by
// SHA-256 of the key, so the time it takes reveals nothing about stored keys;
// the hashes are also compared in constant time.
func (s *Operator) Authenticate(ctx context.Context, secret string) (*hubapi.Principal, error) {
	if !hubapi.WellFormedAPIKey(secret) {
		return nil, hubapi.ErrUnauthenticated
	}
	hash := hubapi.HashAPIKey(secret)
	now := s.now()
	cached := s.authCacheUsable()
	if cached {
		if v, ok := s.auth.Load(hash); ok {
			e := v.(authEntry)
			if now.Before(e.until) {
				return e.p, nil
			}
			s.auth.Delete(hash)
		}
	}
	// A revocation committed while this lookup runs bumps the generation:
	// what the lookup read is then not cached.
	gen := s.authGen.Load()
	var row struct {
		hubapi.APIKey `bun:",extend"`
		Email         string      `bun:"user_email"`
		Role          hubapi.Role `bun:"user_role"`
		Disabled      *time.Time  `bun:"user_disabled_at"`
	}
	err := s.db.NewSelect().Model(&row.APIKey).
		ColumnExpr("api_key.*").
		ColumnExpr("u.email AS user_email, u.role AS user_role, u.disabled_at AS user_disabled_at").
		Join("JOIN users AS u ON u.id = api_key.user_id").
		Where("api_key.key_hash = ? OR api_key.previous_key_hash = ?", hash, hash).Limit(1).Scan(ctx, &row)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, hubapi.ErrUnauthenticated
		}
		return nil, err
	}
	current := subtle.ConstantTimeCompare([]byte(row.Hash), []byte(hash)) == 1
	previous := !current && row.PreviousHash != nil && subtle.ConstantTimeCompare([]byte(*row.PreviousHash), []byte(hash)) == 1
	if (!current && !previous) || !row.Active(now) || row.Disabled != nil {
		return nil, hubapi.ErrUnauthenticated
	}
	var secretExpires *time.Time
	if previous {
		// A secret replaced by a rotation: accepted during the grace
		// period, then told apart from an unknown one.
		if row.PreviousExpiresAt == nil || !now.Before(*row.PreviousExpiresAt) {
			return nil, hubapi.ErrAPIKeyRotated
		}
		secretExpires = row.PreviousExpiresAt
	}
	if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) >= lastUsedResolution {
		_, _ = s.db.NewUpdate().Model((*hubapi.APIKey)(nil)).Set("last_used_at = ?", now).
			Where("id = ?", row.ID).Exec(ctx)
	}
	p := &hubapi.Principal{
		UserID: row.UserID, Email: row.Email, Role: row.Role, APIKeyID: row.ID,
		Scopes:      hubapi.EffectiveScopes(row.Role, row.ScopeList()),
		IPAllowlist: row.IPAllowlist.Prefixes(), IPRestricted: row.IPAllowlist != nil,
		SecretExpiresAt: secretExpires,
	}
	if secretExpires != nil {
		p.SecretRotatedAt = row.LastRotatedAt
	}
	until := now.Add(authCacheTTL)
	if row.ExpiresAt != nil && row.ExpiresAt.Before(until) {
		until = *row.ExpiresAt
	}
	if secretExpires != nil && secretExpires.Before(until) {
		until = *secretExpires
	}
	if cached {
		s.auth.Store(hash, authEntry{p: p, until: until})
		// Stored after a revocation (or a suspension) that ran meanwhile:
		// take it back.
		if s.authGen.Load() != gen || !s.authCacheUsable() {
			s.auth.Delete(hash)
		}
	}
	return p, nil
}

// authCacheTTL bounds how long a successful key lookup is reused without a
// database round trip. A revocation or a disablement takes effect at once
// in this process, and on other instances as soon as its broadcast arrives
// (see Operator.ForgetAPIKey); without a broadcast, within this delay.
const authCacheTTL = 10 * time.Second

type authEntry struct {
	p     *hubapi.Principal
	until time.Time
}

// authCacheUsable reports whether cached authentications may be used: not
// while the channel that brings revocations from other instances is down.
func (s *deps) authCacheUsable() bool {
	live := s.authLive.Load()
	return live == nil || (*live)()
}

// forgetAuth drops the cached authentications that match.
func (s *deps) forgetAuth(match func(*hubapi.Principal) bool) {
	s.authGen.Add(1)
	s.auth.Range(func(k, v any) bool {
		if match(v.(authEntry).p) {
			s.auth.Delete(k)
		}
		return true
	})
}

func (s *deps) forgetKey(id int64) {
	s.forgetAuth(func(p *hubapi.Principal) bool { return p.APIKeyID == id })
}

// ForgetAPIKey drops the cached authentication of a key: call it when
// another instance announces the key's revocation.
func (s *Operator) ForgetAPIKey(id int64) { s.forgetKey(id) }

// ForgetUser drops the cached authentications of a user's keys: call it
// when another instance announces the user's disablement.
func (s *Operator) ForgetUser(id int64) {
	s.forgetAuth(func(p *hubapi.Principal) bool { return p.UserID == id })
}

// ForgetAllAuthentications drops every cached authentication (when
// announcements may have been missed).
func (s *Operator) ForgetAllAuthentications() {
	s.forgetAuth(func(*hubapi.Principal) bool { return true })
}

// UseAuthCacheWhile makes the authentication cache depend on live: while it
// returns false, every key is looked up in the database and nothing is
// cached. Give it the state of the channel that brings revocations from
// other instances, and call ForgetAllAuthentications before it turns true
// again.
func (s *Operator) UseAuthCacheWhile(live func() bool) { s.authLive.Store(&live) }

// CreateAPIKey implements hubapi.APIKeyService (admin only).
func (s *Service) CreateAPIKey(ctx context.Context, in hubapi.APIKeyInput) (*hubapi.APIKey, string, error) {
	p, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionCreate)
	if err != nil {
		return nil, "", err
	}
	if err := hubapi.Can(p, hubapi.ResourceAPIKeys, hubapi.ActionCreate, &hubapi.Row{Owner: in.UserID}); err != nil {
		return nil, "", err
	}
	return s.issueAPIKey(ctx, in)
}

// IssueAPIKey implements hubapi.OperatorService: it creates a key without
// checking a caller, for the administration CLI.
func (s *Operator) IssueAPIKey(ctx context.Context, in hubapi.APIKeyInput) (*hubapi.APIKey, string, error) {
	return s.issueAPIKey(ctx, in)
}

func (s *deps) issueAPIKey(ctx context.Context, in hubapi.APIKeyInput) (*hubapi.APIKey, string, error) {
	fields := map[string]string{}
	var ve *hubapi.ValidationError
	if err := in.Validate(); errors.As(err, &ve) {
		maps.Copy(fields, ve.Fields)
	}
	if len(in.Scopes) == 0 {
		fields["scopes"] = "at least one scope is required"
	}
	scopes, err := hubapi.ParseScopes(hubapi.JoinScopes(in.Scopes))
	if err != nil {
		fields["scopes"] = err.(*hubapi.ValidationError).Fields["scopes"]
	}
	now := s.now()
	if _, bad := fields["expires_at"]; !bad && in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		fields["expires_at"] = "must be in the future"
	}
	u, err := store.Get[hubapi.User](ctx, s.idb(ctx), in.UserID)
	if err != nil {
		if !errors.Is(err, hubapi.ErrNotFound) {
			return nil, "", err
		}
		fields["user_id"] = "does not exist"
	} else {
		for _, sc := range scopes {
			if !hubapi.RoleAllows(u.Role, sc) {
				fields["scopes"] = "scope " + string(sc) + " is beyond the role " + string(u.Role)
				break
			}
		}
	}
	allowlist, _ := hubapi.ParseIPAllowlist(in.IPAllowlist) // checked by Validate
	if len(fields) > 0 {
		return nil, "", &hubapi.ValidationError{Fields: fields}
	}
	interval := hubapi.DefaultRotationIntervalDays
	if in.RotationIntervalDays != nil {
		interval = *in.RotationIntervalDays
	}
	secret, err := hubapi.NewAPIKeySecret()
	if err != nil {
		return nil, "", err
	}
	k := &hubapi.APIKey{UserID: in.UserID, Name: in.Name, Prefix: hubapi.APIKeyDisplayPrefix(secret),
		Hash: hubapi.HashAPIKey(secret), Scopes: hubapi.JoinScopes(scopes), ExpiresAt: in.ExpiresAt,
		CreatedAt: now, UpdatedAt: now, Version: 1,
		IPAllowlist: allowlist, AutoRotate: in.AutoRotate, RotationIntervalDays: interval}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := store.Insert(ctx, tx, k); err != nil {
			return err
		}
		s.recordChange(ctx, "create_api_key", "api_keys", k.ID, k)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// ListAPIKeys implements hubapi.APIKeyService (admin only); userID 0 lists all.
func (s *Service) ListAPIKeys(ctx context.Context, userID int64) ([]hubapi.APIKey, error) {
	if _, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionRead); err != nil {
		return nil, err
	}
	// reading keys' metadata is audited: the request's event names it
	audit.Describe(ctx, "read_api_keys", "api_keys", "")
	var keys []hubapi.APIKey
	q := s.idb(ctx).NewSelect().Model(&keys).Order("id").Limit(1000)
	if userID != 0 {
		q = q.Where("user_id = ?", userID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	if keys == nil {
		keys = []hubapi.APIKey{}
	}
	return keys, nil
}

// RevokeAPIKey implements hubapi.APIKeyService (admin only).
func (s *Service) RevokeAPIKey(ctx context.Context, id int64) error {
	// Admins may act on every key (the grant is "any"): no row to look at.
	p, err := allow(ctx, hubapi.ResourceAPIKeys, hubapi.ActionDelete)
	if err != nil {
		return err
	}
	return s.revokeAPIKey(ctx, p, id)
}

// RevokeAPIKeyByID implements hubapi.OperatorService (the CLI).
func (s *Operator) RevokeAPIKeyByID(ctx context.Context, id int64) error {
	return s.revokeAPIKey(ctx, nil, id)
}

// APIKeysOf implements hubapi.OperatorService (the CLI).
func (s *Operator) APIKeysOf(ctx context.Context, userID int64) ([]hubapi.APIKey, error) {
	var keys []hubapi.APIKey
	if err := s.db.NewSelect().Model(&keys).Where("user_id = ?", userID).Order("id").Scan(ctx); err != nil {
		return nil, err
	}
	return keys, nil
}

// revokeAPIKey revokes the key, forgets its cached authentication here and
// announces the revocation to the other instances (EventAPIKeyRevoked).
func (s *deps) revokeAPIKey(ctx context.Context, p *hubapi.Principal, id int64) error {
	now := s.now()
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*hubapi.APIKey)(nil)).
			Set("revoked_at = ?", now).Set("updated_at = ?", now).Set("version = version + 1").
			Where("id = ?", id).Where("revoked_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n > 0 {
			s.recordChange(ctx, "revoke_api_key", "api_keys", id, map[string]any{"revoked_at": now})
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.forgetKey(id)
	if n == 0 {
		// Already revoked or no such key.
		ok, err := store.Exists[hubapi.APIKey](ctx, s.idb(ctx), id)
		if err != nil {
			return err
		}
		if !ok {
			return hubapi.ErrNotFound
		}
	}
	// Announced again when already revoked: an earlier announcement may
	// have been lost.
	s.announce(ctx, p, hubapi.EventAPIKeyRevoked, "api_keys", id)
	return nil
}

// CountActiveAPIKeys implements hubapi.OperatorService (for the
// active_api_keys gauge).
func (s *Operator) CountActiveAPIKeys(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Model((*hubapi.APIKey)(nil)).Where("revoked_at IS NULL").
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("expires_at IS NULL").WhereOr("expires_at > ?", s.now())
		}).Count(ctx)
	return int(n), err
}
