//go:build !unix && !windows

package store

import (
	"context"
	"time"
)

// lockFile has no cross-process lock on this platform: run one instance per
// SQLite file.
func lockFile(context.Context, string, time.Duration) (func(), error) { return func() {}, nil }
