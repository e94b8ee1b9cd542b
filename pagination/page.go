package pagination

import (
	"encoding/json"
)

// Page is one page of rows with its pagination links. It marshals to the
// envelope {"data":[...],"pagination":{...}}; Data is never null.
type Page[T any] struct {
	Data       []T  `json:"data"`
	Pagination Info `json:"pagination"`
}

// MarshalJSON writes an empty array for nil Data.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	type envelope struct {
		Data       []T  `json:"data"`
		Pagination Info `json:"pagination"`
	}
	e := envelope(p)
	if e.Data == nil {
		e.Data = []T{}
	}
	return json.Marshal(e)
}

// Info is the "pagination" member of the envelope:
//
//	{"next_cursor":"...","prev_cursor":null,"has_more":true}
//
// An empty cursor is written as null. HasMore is true exactly when
// NextCursor is set.
type Info struct {
	NextCursor string
	PrevCursor string
	HasMore    bool
}

type infoJSON struct {
	NextCursor *string `json:"next_cursor"`
	PrevCursor *string `json:"prev_cursor"`
	HasMore    bool    `json:"has_more"`
}

// MarshalJSON writes null for absent cursors.
func (i Info) MarshalJSON() ([]byte, error) {
	j := infoJSON{HasMore: i.HasMore}
	if i.NextCursor != "" {
		j.NextCursor = &i.NextCursor
	}
	if i.PrevCursor != "" {
		j.PrevCursor = &i.PrevCursor
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the envelope member (null cursors become "").
func (i *Info) UnmarshalJSON(b []byte) error {
	var j infoJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*i = Info{HasMore: j.HasMore}
	if j.NextCursor != nil {
		i.NextCursor = *j.NextCursor
	}
	if j.PrevCursor != nil {
		i.PrevCursor = *j.PrevCursor
	}
	return nil
}

// Map converts a page of rows (storage models) into a page of D (response
// DTOs), keeping its pagination.
func Map[T, D any](p *Page[T], f func(*T) D) *Page[D] {
	out := &Page[D]{Data: make([]D, len(p.Data)), Pagination: p.Pagination}
	for i := range p.Data {
		out.Data[i] = f(&p.Data[i])
	}
	return out
}
