package pagination

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParsePayload checks the plaintext parser on arbitrary bytes (as if a
// key had leaked): no panic, and whatever parses re-encodes to the same
// cursor.
func FuzzParsePayload(f *testing.F) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var fp Fingerprint
	for _, cur := range []Cursor{
		{},
		{Values: []any{nil, true, false, int64(-1), 2.5, "é", []byte{0}, now}, Backward: true},
		{Values: []any{int64(1)}, Inclusive: true},
	} {
		b, err := appendPayload(nil, cur, fp, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		cur, gotFP, issued, err := parsePayload(b)
		if err != nil {
			return
		}
		again, err := appendPayload(nil, cur, gotFP, issued)
		if err != nil {
			t.Fatalf("parsed cursor does not re-encode: %v", err)
		}
		cur2, fp2, issued2, err := parsePayload(again)
		if err != nil || fp2 != gotFP || !issued2.Equal(issued) || len(cur2.Values) != len(cur.Values) {
			t.Fatalf("round trip changed the cursor: %+v → %+v (%v)", cur, cur2, err)
		}
		// compare canonical encodings (NaN != NaN for reflect.DeepEqual)
		third, err := appendPayload(nil, cur2, fp2, issued2)
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("round trip is not stable: %x → %x", again, third)
		}
	})
}
