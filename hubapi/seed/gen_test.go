package seed

import (
	"bytes"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/hubchantier/hubchantier/hubapi"
)

var genNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func testGenerator(n int) *generator {
	users := make([]existingUser, 0, 100)
	for i := range 100 {
		role := hubapi.RoleCompagnon
		switch {
		case i < 2:
			role = hubapi.RoleAdmin
		case i < 10:
			role = hubapi.RoleConducteur
		case i < 25:
			role = hubapi.RoleChefChantier
		}
		users = append(users, existingUser{id: int64(i + 1), role: role})
	}
	return newGenerator(9, n, 0, genNow.AddDate(-DefaultYears, 0, 0), genNow, buildPools(users))
}

func TestListsFitInCompactRows(t *testing.T) {
	// Compact rows keep list indexes in a byte; 255 marks "none".
	for name, n := range map[string]int{
		"pointageComments": len(pointageComments), "signalementTopics": len(signalementTopics),
		"zonesChantier": len(zonesChantier), "signalementSuites": len(signalementSuites),
		"affectationSlots": len(affectationSlots), "affectationNotes": len(affectationNotes),
		"documentTemplates": len(documentTemplates), "noms": len(noms),
	} {
		if n == 0 || n >= 255 {
			t.Errorf("%s has %d entries, want 1..254", name, n)
		}
	}
	for _, tpl := range documentTemplates {
		if _, ok := documentFormats[tpl.ext]; !ok {
			t.Errorf("template %q: no format for .%s", tpl.nom, tpl.ext)
		}
		if !strings.Contains(strings.Join(hubapi.DocumentCategories, ","), tpl.categorie) {
			t.Errorf("template %q: unknown category %q", tpl.nom, tpl.categorie)
		}
	}
	for _, k := range chantierKinds {
		if k.budgetMin <= 0 || k.budgetMax < k.budgetMin || k.daysMin <= 0 || k.daysMax < k.daysMin {
			t.Errorf("kind %q: budget %d..%d days %d..%d", k.noms[0], k.budgetMin, k.budgetMax, k.daysMin, k.daysMax)
		}
	}
	for _, s := range affectationSlots {
		in := hubapi.AffectationInput{UserID: 1, ChantierID: 1, Date: hubapi.NewDate(2026, 1, 5), HeureDebut: s[0], HeureFin: s[1]}
		if err := in.Validate(); err != nil {
			t.Errorf("slot %v: %v", s, err)
		}
	}
}

func TestChantierCode(t *testing.T) {
	for _, tc := range []struct {
		year int
		seq  int64
		want string
	}{
		{2021, 1, "CH-2021-0000001"},
		{2026, 1_000_000, "CH-2026-1000000"},
		{2026, 12_345_678, "CH-2026-12345678"}, // past seven digits the number grows
	} {
		got := chantierCode(tc.year, tc.seq)
		if got != tc.want {
			t.Errorf("chantierCode(%d, %d) = %q, want %q", tc.year, tc.seq, got, tc.want)
		}
		if n, ok := parseCodeSeq(got); !ok || n != tc.seq {
			t.Errorf("parseCodeSeq(%q) = %d, %v", got, n, ok)
		}
	}
}

func TestParseCodeSeq(t *testing.T) {
	for _, tc := range []struct {
		code string
		want int64
		ok   bool
	}{
		{"CH-2026-0000042", 42, true},
		{"CH-2026-001", 1, true}, // the demo data's short form
		{"CH-2026-", 0, false},
		{"CH-26-0001", 0, false},
		{"CH-20X6-0001", 0, false},
		{"CH-2026-00A1", 0, false},
		{"ch-2026-0001", 0, false},
		{"CH-2026-99999999999999999999", 0, false}, // overflows int64
		{"CHANTIER-1", 0, false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			got, ok := parseCodeSeq(tc.code)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseCodeSeq(%q) = %d, %v; want %d, %v", tc.code, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzParseCodeSeq reads codes stored in the database (any text): it must
// never panic, and what it accepts must format back to an equivalent code.
func FuzzParseCodeSeq(f *testing.F) {
	for _, s := range []string{"CH-2026-0000001", "CH-2026-001", "CH-2026-", "", "CH-0000-9223372036854775807", "CH-2026-\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		n, ok := parseCodeSeq(code)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("%q gave a negative number %d", code, n)
		}
		if again, ok := parseCodeSeq(chantierCode(2026, n)); !ok || again != n {
			t.Fatalf("%q: %d does not round-trip", code, n)
		}
	})
}

func TestCalendar(t *testing.T) {
	t.Run("weekday agrees with the time package", func(t *testing.T) {
		for d := int32(-800); d < 30_000; d += 13 {
			want := int(time.UnixMicro(int64(d) * usPerDay).UTC().Weekday())
			if got := weekday(d); got != want {
				t.Fatalf("weekday(%d) = %d, want %d", d, got, want)
			}
		}
	})
	t.Run("Easter Sundays", func(t *testing.T) {
		for y, want := range map[int]string{2019: "2019-04-21", 2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05"} {
			if got := dateOfDay(easterDay(y)).String(); got != want {
				t.Errorf("Easter %d = %s, want %s", y, got, want)
			}
		}
	})
	t.Run("French public holidays", func(t *testing.T) {
		for date, want := range map[string]bool{
			"2026-01-01": true, "2026-04-06": true /* Easter Monday */, "2026-05-01": true, "2026-05-08": true,
			"2026-05-14": true /* Ascension */, "2026-05-25": true /* Whit Monday */, "2026-07-14": true, "2026-08-15": true,
			"2026-11-01": true, "2026-11-11": true, "2026-12-25": true,
			"2026-04-05": false, "2026-07-15": false, "2026-12-24": false,
		} {
			d, _ := hubapi.ParseDate(date)
			if got := isFerie(dayOf(d.Time().UnixMicro())); got != want {
				t.Errorf("isFerie(%s) = %v, want %v", date, got, want)
			}
		}
	})
}

func TestEmails(t *testing.T) {
	for _, tc := range []struct{ prenom, nom, want string }{
		{"Hélène", "Le Gall", "helene.le-gall"},
		{"Jean-Pierre", "N'Diaye", "jean-pierre.ndiaye"},
		{"Éric", "Lefèvre", "eric.lefevre"},
		{"Inès", "Ben Saïd", "ines.ben-said"},
	} {
		if got := emailLocal(tc.prenom, tc.nom); got != tc.want {
			t.Errorf("emailLocal(%q, %q) = %q, want %q", tc.prenom, tc.nom, got, tc.want)
		}
	}
	t.Run("homonyms get a number and every address is valid", func(t *testing.T) {
		taken := map[string]struct{}{"jean.martin@" + EmailDomain: {}}
		users := genUsers(1, 3000, 0, genNow.AddDate(-1, 0, 0).UnixMicro(), genNow.UnixMicro(), taken)
		seen := map[string]bool{"jean.martin@" + EmailDomain: true}
		numbered := 0
		for i := range users {
			u := &users[i]
			if seen[u.Email] {
				t.Fatalf("duplicate e-mail %s", u.Email)
			}
			seen[u.Email] = true
			if err := u.Validate(); err != nil {
				t.Fatalf("user %+v: %v", u, err)
			}
			if regexp.MustCompile(`[0-9]@`).MatchString(u.Email) {
				numbered++
			}
			if i > 0 && u.CreatedAt.Before(users[i-1].CreatedAt) {
				t.Fatalf("user %d created before user %d", u.ID, users[i-1].ID)
			}
		}
		if numbered == 0 {
			t.Error("3000 users without a single homonym: the numbering is not exercised")
		}
		if users[0].Role != hubapi.RoleAdmin || users[3].Role != hubapi.RoleCompagnon {
			t.Errorf("the first users should cover every role: %s..%s", users[0].Role, users[3].Role)
		}
	})
}

func TestChunksDoNotDependOnGenerationOrder(t *testing.T) {
	g := testGenerator(3 * chunkSize)
	late := g.chunk(2, 100)
	g.chunk(0, 100)
	g.chunk(1, 100)
	if again := g.chunk(2, 100); !reflect.DeepEqual(late, again) {
		t.Error("chunk 2 differs when generated after chunks 0 and 1")
	}
	if late.chantiers[0].ID != 100+2*chunkSize+1 {
		t.Errorf("first id of chunk 2 = %d", late.chantiers[0].ID)
	}
}

func TestCreationTimesFollowIDs(t *testing.T) {
	g := testGenerator(2 * chunkSize)
	var prev time.Time
	for k := range 2 {
		for _, c := range g.chunk(k, 0).chantiers {
			if !c.CreatedAt.After(prev) {
				t.Fatalf("chantier %d created %s, not after %s", c.ID, c.CreatedAt, prev)
			}
			prev = c.CreatedAt
		}
	}
	if prev.After(genNow) {
		t.Errorf("last chantier created %s, after now", prev)
	}
}

// captureSink returns a pgSink whose bytes land in buf once closed.
func captureSink(ncols uint16) (*pgSink, *bytes.Buffer) {
	pr, pw := io.Pipe()
	var buf bytes.Buffer
	s := &pgSink{pw: pw, ncols: ncols, done: make(chan copyResult, 1)}
	go func() {
		_, err := io.Copy(&buf, pr)
		s.done <- copyResult{rows: 1, err: err}
	}()
	s.buf = append(s.buf, pgCopySignature...)
	s.buf = append(s.buf, 0, 0, 0, 0, 0, 0, 0, 0)
	return s, &buf
}

func TestPostgresBinaryCopyFormat(t *testing.T) {
	s, buf := captureSink(6)
	if err := s.beginRow(); err != nil {
		t.Fatal(err)
	}
	s.int8(-2)
	s.int4(7)
	s.text("é")
	s.date(pgEpochDays + 1)      // 2000-01-02
	s.timestamptz(pgEpochUS - 1) // 1999-12-31 23:59:59.999999
	s.null()
	if _, err := s.close(); err != nil {
		t.Fatal(err)
	}
	want := []byte("PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00" +
		"\x00\x06" +
		"\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xfe" +
		"\x00\x00\x00\x04\x00\x00\x00\x07" +
		"\x00\x00\x00\x02\xc3\xa9" +
		"\x00\x00\x00\x04\x00\x00\x00\x01" +
		"\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff" +
		"\xff\xff\xff\xff" +
		"\xff\xff")
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("encoded\n%x\nwant\n%x", buf.Bytes(), want)
	}
}

func TestSQLiteTimesAreWrittenLikeBun(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC),
		time.Date(2021, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 12, 30, 0, 500000000, time.UTC),
	} {
		bunText := strings.Trim(string(sqlitedialect.New().AppendTime(nil, tm)), "'")
		s := &sqliteSink{}
		s.timestamptz(tm.UnixMicro())
		if s.args[0] != bunText {
			t.Errorf("seed writes %q, bun writes %q", s.args[0], bunText)
		}
	}
}

func TestDocumentKeysAreBlobKeys(t *testing.T) {
	keyRe := regexp.MustCompile(`^[a-f0-9]{16,64}$`) // hubapi/blob's key format
	for _, id := range []int64{1, 42, 1 << 40} {
		if k := documentKey(id); !keyRe.MatchString(k) || !strings.HasPrefix(k, seededKeyPrefix) {
			t.Errorf("documentKey(%d) = %q", id, k)
		}
	}
	seen := map[string]string{}
	for ext, p := range placeholders {
		if len(p.content) == 0 || !keyRe.MatchString(p.key) {
			t.Errorf("%s placeholder: %d bytes, key %q", ext, len(p.content), p.key)
		}
		if other, dup := seen[p.sha256]; dup {
			t.Errorf("the %s and %s placeholders are the same bytes", ext, other)
		}
		seen[p.sha256] = ext
	}
	if len(placeholders) != len(documentFormats) {
		t.Errorf("%d placeholders for %d formats", len(placeholders), len(documentFormats))
	}
}

func BenchmarkGenerateChunk(b *testing.B) {
	g := testGenerator(chunkSize * 64)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.chunk(i%64, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunkSize), "ns/chantier")
}

func benchmarkEncode(b *testing.B, t *tableSpec, write func(s rowSink, c *chunk, i int)) {
	c := testGenerator(chunkSize).chunk(0, 0)
	pr, pw := io.Pipe()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	s := &pgSink{pw: pw, ncols: uint16(len(t.cols)), buf: make([]byte, 0, pgFlushSize+4096)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		write(s, c, i)
	}
	_ = pw.Close()
}

func BenchmarkEncodeChantierBinary(b *testing.B) {
	benchmarkEncode(b, chantiersTable, func(s rowSink, c *chunk, i int) { _ = writeChantier(s, &c.chantiers[i%len(c.chantiers)]) })
}

func BenchmarkEncodePointageBinary(b *testing.B) {
	benchmarkEncode(b, pointagesTable, func(s rowSink, c *chunk, i int) { _ = writePointage(s, int64(i), &c.pointages[i%len(c.pointages)]) })
}

func BenchmarkEncodeDocumentBinary(b *testing.B) {
	benchmarkEncode(b, documentsTable, func(s rowSink, c *chunk, i int) {
		_ = writeDocument(s, int64(i), &c.documents[i%len(c.documents)])
	})
}

func TestDocumentNames(t *testing.T) {
	at := time.Date(2025, 3, 7, 10, 0, 0, 0, time.UTC).UnixMicro()
	find := func(nom string) uint8 {
		for i, tpl := range documentTemplates {
			if tpl.nom == nom {
				return small(i)
			}
		}
		t.Fatalf("no template %q", nom)
		return 0
	}
	for _, tc := range []struct {
		row  documentRow
		want string
	}{
		{documentRow{tpl: find("Plan RDC indice {l}"), letter: 2}, "Plan RDC indice C.pdf"},
		{documentRow{tpl: find("Photo chantier {d} {n}"), num: 12, createdUS: at}, "Photo chantier 7 mars 2025 12.jpg"},
		{documentRow{tpl: find("Contrat de sous-traitance {nom}"), nom: 0}, "Contrat de sous-traitance " + noms[0] + ".pdf"},
		{documentRow{tpl: find("PV de réception")}, "PV de réception.pdf"},
	} {
		if got := documentName(&tc.row); got != tc.want {
			t.Errorf("documentName = %q, want %q", got, tc.want)
		}
	}
}
