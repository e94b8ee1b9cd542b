//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path (created if missing), waiting at
// most wait. The kernel drops the lock when the process dies. flock, not
// fcntl: SQLite's own fcntl locks are per process, and a second handle in
// the same process must wait too.
func lockFile(ctx context.Context, path string, wait time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the path is derived from the operator's HUB_DATABASE_URL, never from a request
	if err != nil {
		return nil, fmt.Errorf("migrate lock: %w", err)
	}
	err = retryUntil(ctx, wait, func() (bool, error) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { _ = f.Close() }, nil // closing releases the lock
}
