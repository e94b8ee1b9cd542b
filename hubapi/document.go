package hubapi

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// DocumentCategories lists the document categories.
var DocumentCategories = []string{"plan", "photo", "contrat", "facture", "rapport", "pv", "autre"}

// Document is a file attached to a chantier. Its content lives in a blob
// store under StorageKey.
type Document struct {
	ID         int64     `bun:"id,pk,autoincrement" json:"id"`
	ChantierID int64     `bun:"chantier_id,notnull" json:"chantier_id"`
	Nom        string    `bun:"nom,notnull" json:"nom"`
	Categorie  string    `bun:"categorie,notnull" json:"categorie"`
	MimeType   string    `bun:"mime_type,notnull" json:"mime_type"`
	Size       int64     `bun:"size,notnull" json:"size"`
	SHA256     string    `bun:"sha256,notnull" json:"sha256"`
	UploadedBy int64     `bun:"uploaded_by,notnull" json:"uploaded_by"`
	StorageKey string    `bun:"storage_key,notnull" json:"-"`
	CreatedAt  time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt  time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version    int64     `bun:"version,notnull" json:"version"`
}

// DocumentInput is the metadata of a document (create and replace).
type DocumentInput struct {
	ChantierID int64  `json:"chantier_id"`
	Nom        string `json:"nom"`
	Categorie  string `json:"categorie"`
}

// Input returns the writable fields of d.
func (d *Document) Input() DocumentInput { return DocumentInput{d.ChantierID, d.Nom, d.Categorie} }

// Apply copies in onto d.
func (d *Document) Apply(in DocumentInput) {
	d.ChantierID, d.Nom, d.Categorie = in.ChantierID, in.Nom, in.Categorie
}

// Normalize applies defaults.
func (in *DocumentInput) Normalize() {
	if in.Categorie == "" {
		in.Categorie = "autre"
	}
}

// Validate checks the input after Normalize.
func (in *DocumentInput) Validate() error {
	var v validator
	v.check(in.ChantierID > 0, "chantier_id", "required: a positive id")
	checkText(&v, "nom", in.Nom, 1, 255)
	v.check(slices.Contains(DocumentCategories, in.Categorie), "categorie", "must be one of plan, photo, contrat, facture, rapport, pv, autre")
	return v.err()
}

// DocumentFilter selects documents in lists.
type DocumentFilter struct {
	ChantierID int64
	Categorie  string
}

// Validate checks a filter built by an adapter (field names are the v1
// query parameters).
func (f *DocumentFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	checkEnum(&v, "categorie", f.Categorie, DocumentCategories)
	return v.err()
}

// Upload is a document's content being uploaded.
type Upload struct {
	MimeType string
	Body     io.Reader
}

// DocumentService manages documents (documents:read / documents:write).
// Who may do what is the Permissions matrix: a chef de chantier changes
// and deletes only the documents they uploaded (ErrForbidden).
type DocumentService interface {
	GetDocument(ctx context.Context, id int64) (*Document, error)
	// ListDocuments reads only the columns sel names (nil: all). Errors:
	// ErrForbidden, and those of PageRequest.
	ListDocuments(ctx context.Context, f DocumentFilter, p PageRequest, sel *fields.Selection) (*Page[Document], error)
	// CreateDocument stores the content and its metadata; size and SHA-256
	// are computed from the content. Errors: ErrInvalid, ErrTooLarge
	// (the content exceeds MaxUpload).
	CreateDocument(ctx context.Context, in DocumentInput, content Upload) (*Document, error)
	UpdateDocument(ctx context.Context, id int64, in DocumentInput, ifVersion int64) (*Document, error)
	// PatchDocument is UpdateDocument with the new fields computed by
	// change from the current ones under the row lock (see PatchChantier).
	PatchDocument(ctx context.Context, id int64, change func(current DocumentInput) (DocumentInput, error), ifVersion int64) (*Document, error)
	DeleteDocument(ctx context.Context, id int64, ifVersion int64) error
	// OpenDocument returns the document and its content; the caller closes it.
	OpenDocument(ctx context.Context, id int64) (*Document, io.ReadSeekCloser, error)
	// MaxUpload is the content size limit in bytes (a setting, not an
	// operation: it checks no caller).
	MaxUpload() int64
}

// BlobStore keeps document contents.
type BlobStore interface {
	// Put stores r under key, at most maxBytes (ErrTooLarge beyond).
	Put(ctx context.Context, key string, r io.Reader, maxBytes int64) (size int64, sha256hex string, err error)
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	Delete(ctx context.Context, key string) error
}
