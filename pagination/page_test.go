package pagination_test

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/hubchantier/hubchantier/pagination"
)

func TestPageJSONEnvelope(t *testing.T) {
	tests := []struct {
		name string
		page pagination.Page[int]
		want string
	}{
		{"first page with more", pagination.Page[int]{Data: []int{1, 2}, Pagination: pagination.Info{NextCursor: "n", HasMore: true}},
			`{"data":[1,2],"pagination":{"next_cursor":"n","prev_cursor":null,"has_more":true}}`},
		{"middle page", pagination.Page[int]{Data: []int{3}, Pagination: pagination.Info{NextCursor: "n", PrevCursor: "p", HasMore: true}},
			`{"data":[3],"pagination":{"next_cursor":"n","prev_cursor":"p","has_more":true}}`},
		{"empty page: data is [] not null", pagination.Page[int]{},
			`{"data":[],"pagination":{"next_cursor":null,"prev_cursor":null,"has_more":false}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.page)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got  %s\nwant %s", b, tt.want)
			}
			var back struct {
				Pagination pagination.Info `json:"pagination"`
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Pagination != tt.page.Pagination {
				t.Fatalf("round trip: %+v, %v", back.Pagination, err)
			}
		})
	}
	t.Run("a pointer to a page marshals the same", func(t *testing.T) {
		b, _ := json.Marshal(&pagination.Page[int]{})
		if string(b) != tests[2].want {
			t.Fatalf("got %s", b)
		}
	})
}

func TestMapKeepsPagination(t *testing.T) {
	in := &pagination.Page[item]{Data: []item{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}}, Pagination: pagination.Info{NextCursor: "n", HasMore: true}}
	type dto struct{ Nom string }
	out := pagination.Map(in, func(it *item) dto { return dto{Nom: it.Name} })
	if !slices.Equal(out.Data, []dto{{"a"}, {"b"}}) || out.Pagination != in.Pagination {
		t.Fatalf("got %+v", out)
	}
}

func TestLinkHeader(t *testing.T) {
	u, _ := url.Parse("/api/v1/chantiers?statut=ouvert&limit=50&sort=-date_debut,nom&cursor=old&page=3#frag")
	tests := []struct {
		name string
		info pagination.Info
		want string
	}{
		{"no cursors → no header", pagination.Info{}, ""},
		{"next only", pagination.Info{NextCursor: "NEXT", HasMore: true},
			`</api/v1/chantiers?cursor=NEXT&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="next"`},
		{"next and prev", pagination.Info{NextCursor: "N-_1", PrevCursor: "P", HasMore: true},
			`</api/v1/chantiers?cursor=N-_1&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="next", ` +
				`</api/v1/chantiers?cursor=P&limit=50&sort=-date_debut%2Cnom&statut=ouvert>; rel="prev"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pagination.LinkHeader(u, tt.info); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	t.Run("absolute URL stays absolute, without user info", func(t *testing.T) {
		abs, _ := url.Parse("https://user:pw@api.example.com/api/v1/chantiers?limit=5")
		got := pagination.LinkHeader(abs, pagination.Info{NextCursor: "N"})
		if want := `<https://api.example.com/api/v1/chantiers?cursor=N&limit=5>; rel="next"`; got != want {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("characters that would end the link target are escaped", func(t *testing.T) {
		odd, _ := url.Parse("/a%3Eb?q=%3E%3C%22")
		got := pagination.LinkHeader(odd, pagination.Info{NextCursor: "N"})
		if want := `</a%3Eb?cursor=N&q=%3E%3C%22>; rel="next"`; got != want {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("WriteLink adds to existing Link values", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Link", `</api/v2/chantiers>; rel="successor-version"`)
		pagination.WriteLink(rec, u, pagination.Info{NextCursor: "N"})
		pagination.WriteLink(rec, u, pagination.Info{})
		if got := rec.Header().Values("Link"); len(got) != 2 {
			t.Fatalf("Link values: %q", got)
		}
	})
}
