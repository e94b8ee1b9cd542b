package pagination_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
)

// benchCursor is the cursor of a typical chantiers page: created_at and id.
var benchCursor = pagination.Cursor{Values: []any{time.Date(2026, 1, 15, 10, 0, 0, 123456000, time.UTC), int64(123456)}}

func BenchmarkCodecEncode(b *testing.B) {
	c := mustCodec(b, [][]byte{key1})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(benchCursor, fpA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecDecode(b *testing.B) {
	c := mustCodec(b, [][]byte{key1})
	tok := mustEncode(b, c, benchCursor, fpA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(tok, fpA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecEncodeDecode(b *testing.B) {
	c := mustCodec(b, [][]byte{key1})
	b.ReportAllocs()
	for b.Loop() {
		tok, err := c.Encode(benchCursor, fpA)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(tok, fpA); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecDecodeOldKey opens a cursor sealed with the third key of the
// rotation list (two failed attempts first).
func BenchmarkCodecDecodeOldKey(b *testing.B) {
	tok := mustEncode(b, mustCodec(b, [][]byte{key3}), benchCursor, fpA)
	c := mustCodec(b, [][]byte{key1, key2, key3})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(tok, fpA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecDecodeGarbage(b *testing.B) {
	c := mustCodec(b, [][]byte{key1, key2})
	tok := mustEncode(b, mustCodec(b, [][]byte{key3}), benchCursor, fpA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(tok, fpA); err == nil {
			b.Fatal("opened")
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	p := newItemPaginator(b)
	req, _ := p.NewRequest("-day,name", 50, "", "statut=ouvert")
	day := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	tok, err := p.CursorAfter(req, &item{ID: 99, Name: "alpha", Day: &day})
	if err != nil {
		b.Fatal(err)
	}
	q := url.Values{"cursor": {tok}, "limit": {"50"}, "sort": {"-day,name"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseRequest(q, "statut=ouvert"); err != nil {
			b.Fatal(err)
		}
	}
}
