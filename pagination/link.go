package pagination

import (
	"net/http"
	"net/url"
	"strings"
)

// LinkHeader returns the value of an RFC 8288 Link header pointing to the
// next and previous pages, or "" when there is neither:
//
//	</api/v1/chantiers?cursor=...&limit=50&statut=ouvert>; rel="next", </api/v1/chantiers?cursor=...>; rel="prev"
//
// The targets are u with its "cursor" parameter replaced; the other query
// parameters (limit, sort, filters) are kept, except the offset parameters
// "page" and "offset", which a cursor replaces. Pass r.URL for a relative
// reference (RFC 8288 §3.1 resolves it against the request URI), or an
// absolute URL built from the configured public base URL — never from the
// request's Host header, which clients control.
func LinkHeader(u *url.URL, info Info) string {
	var parts []string
	if info.NextCursor != "" {
		parts = append(parts, linkValue(u, info.NextCursor, "next"))
	}
	if info.PrevCursor != "" {
		parts = append(parts, linkValue(u, info.PrevCursor, "prev"))
	}
	return strings.Join(parts, ", ")
}

// WriteLink adds the Link header of [LinkHeader] to w, if there is a link.
// It adds rather than sets, so Link values set by other middleware (API
// version deprecation links) are kept.
func WriteLink(w http.ResponseWriter, u *url.URL, info Info) {
	if v := LinkHeader(u, info); v != "" {
		w.Header().Add("Link", v)
	}
}

func linkValue(u *url.URL, cursor, rel string) string {
	target := *u
	target.User = nil
	target.Fragment, target.RawFragment = "", ""
	q := u.Query()
	q.Del("page")
	q.Del("offset")
	q.Set("cursor", cursor)
	target.RawQuery = q.Encode()
	target.ForceQuery = false
	return "<" + target.String() + `>; rel="` + rel + `"`
}
