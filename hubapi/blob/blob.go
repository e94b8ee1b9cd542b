// Package blob stores document contents in a local directory.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Dir is a hubapi.BlobStore in a local directory. Keys are opaque names
// chosen by the service (hex); they are checked so no key escapes the
// directory.
type Dir struct{ root string }

// NewDir creates (if needed) and uses root.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Dir{root: root}, nil
}

var keyRe = regexp.MustCompile(`^[a-f0-9]{16,64}$`)

func (d *Dir) path(key string) (string, error) {
	if !keyRe.MatchString(key) {
		return "", errors.New("blob: invalid key")
	}
	return filepath.Join(d.root, key[:2], key), nil
}

// Put implements hubapi.BlobStore. The content is written to a temporary
// file and renamed, so a failed upload leaves nothing behind.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (int64, string, error) {
	p, err := d.path(key)
	if err != nil {
		return 0, "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return 0, "", err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return 0, "", err
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", err
	}
	if n > maxBytes {
		return 0, "", hubapi.Errorf(hubapi.ErrTooLarge, "The content exceeds the %d-byte limit.", maxBytes)
	}
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Open implements hubapi.BlobStore.
func (d *Dir) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p) // #nosec G304 -- p is built from a validated hex key under root
	if errors.Is(err, os.ErrNotExist) {
		return nil, hubapi.ErrNotFound
	}
	return f, err
}

// Delete implements hubapi.BlobStore; deleting a missing key is not an error.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Link makes the content stored under from available under to as well,
// with a hard link: no copy, no extra space, and deleting either key leaves
// the other intact. An existing to is replaced.
func (d *Dir) Link(_ context.Context, from, to string) error {
	src, err := d.path(from)
	if err != nil {
		return err
	}
	dst, err := d.path(to)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	err = os.Link(src, dst)
	if errors.Is(err, os.ErrExist) {
		if err = os.Remove(dst); err == nil {
			err = os.Link(src, dst)
		}
	}
	return err
}
