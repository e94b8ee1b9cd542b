package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// serverSecret is a row of server_secrets.
type serverSecret struct {
	bun.BaseModel `bun:"table:server_secrets,alias:s"`

	Name      string    `bun:"name,pk"`
	Value     []byte    `bun:"value,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// SharedSecret returns the secret kept under name, creating it with
// generate when there is none yet. Instances that start together on one
// database all get the same value: each inserts its candidate with ON
// CONFLICT DO NOTHING and then reads back whichever was stored first.
// The secret is stored as is: whoever can read the database can read it.
func (db *DB) SharedSecret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	candidate, err := generate()
	if err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	row := &serverSecret{Name: name, Value: candidate, CreatedAt: Now()}
	if _, err := db.NewInsert().Model(row).On("CONFLICT (name) DO NOTHING").Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, mapErr(err))
	}
	var stored serverSecret
	if err := db.NewSelect().Model(&stored).Where("s.name = ?", name).Limit(1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, mapErr(err))
	}
	return stored.Value, nil
}

// StoredSecret returns the secret kept under name. Errors:
// hubapi.ErrNotFound when there is none.
func (db *DB) StoredSecret(ctx context.Context, name string) ([]byte, error) {
	var stored serverSecret
	if err := db.NewSelect().Model(&stored).Where("s.name = ?", name).Limit(1).Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	return stored.Value, nil
}
