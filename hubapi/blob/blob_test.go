package blob_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/blob"
)

func read(t *testing.T, d *blob.Dir, key string) string {
	t.Helper()
	rc, err := d.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Link shares a content under a second key: deleting either key leaves the
// other readable, and linking over an existing key replaces it.
func TestLink(t *testing.T) {
	ctx := context.Background()
	d, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const src, dst, other = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"
	if _, _, err := d.Put(ctx, src, strings.NewReader("contenu"), 100); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Put(ctx, other, strings.NewReader("autre"), 100); err != nil {
		t.Fatal(err)
	}
	if err := d.Link(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if err := d.Link(ctx, src, other); err != nil {
		t.Fatal(err)
	}
	if got := read(t, d, other); got != "contenu" {
		t.Errorf("linked over an existing key: %q", got)
	}
	if err := d.Delete(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got := read(t, d, dst); got != "contenu" {
		t.Errorf("after deleting the source: %q", got)
	}
	for _, keys := range [][2]string{{"../etc/passwd00", dst}, {src, "../../x/yyyyyyyyyyyy"}, {"zzzzzzzzzzzzzzzz", "dddddddddddddddd"}} {
		if err := d.Link(ctx, keys[0], keys[1]); err == nil {
			t.Errorf("Link(%q, %q) accepted", keys[0], keys[1])
		}
	}
}
