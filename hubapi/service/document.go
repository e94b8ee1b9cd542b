package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"mime"
	"strings"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// documentRow is what the permission rules see of a document: it belongs
// to who uploaded it.
func documentRow(d *hubapi.Document) *hubapi.Row { return &hubapi.Row{Owner: d.UploadedBy} }

// GetDocument implements hubapi.DocumentService.
func (s *Service) GetDocument(ctx context.Context, id int64) (*hubapi.Document, error) {
	p, err := allow(ctx, hubapi.ResourceDocuments, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	d, err := store.Get[hubapi.Document](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceDocuments, hubapi.ActionRead, documentRow(d)); err != nil {
		return nil, err
	}
	return d, nil
}

// CreateDocument implements hubapi.DocumentService. The content is stored
// first; if the metadata cannot be written the content is removed again.
func (s *Service) CreateDocument(ctx context.Context, in hubapi.DocumentInput, up hubapi.Upload) (*hubapi.Document, error) {
	p, err := allow(ctx, hubapi.ResourceDocuments, hubapi.ActionCreate)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceDocuments, hubapi.ActionCreate, &hubapi.Row{Owner: p.UserID}); err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	mt := "application/octet-stream"
	if up.MimeType != "" {
		parsed, _, err := mime.ParseMediaType(up.MimeType)
		if err != nil || len(parsed) > 127 || !strings.Contains(parsed, "/") {
			return nil, &hubapi.ValidationError{Fields: map[string]string{"file": "invalid content type"}}
		}
		mt = parsed
	}
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(rnd[:])
	if err := mustExist[hubapi.Chantier](ctx, s.idb(ctx), in.ChantierID, "chantier_id"); err != nil {
		return nil, err
	}
	size, sum, err := s.blobs.Put(ctx, key, up.Body, s.maxUpload)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := &hubapi.Document{MimeType: mt, Size: size, SHA256: sum, UploadedBy: p.UserID, StorageKey: key,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	d.Apply(in)
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id"); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, d); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventDocumentCreated, "documents", d.ID, d)
	})
	if err != nil {
		_ = s.blobs.Delete(context.WithoutCancel(ctx), key)
		return nil, err
	}
	return d, nil
}

// UpdateDocument implements hubapi.DocumentService (metadata only).
func (s *Service) UpdateDocument(ctx context.Context, id int64, in hubapi.DocumentInput, ifVersion int64) (*hubapi.Document, error) {
	if _, err := allow(ctx, hubapi.ResourceDocuments, hubapi.ActionChange); err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return s.PatchDocument(ctx, id, replaceWith(in), ifVersion)
}

// PatchDocument implements hubapi.DocumentService (metadata only).
func (s *Service) PatchDocument(ctx context.Context, id int64, change func(hubapi.DocumentInput) (hubapi.DocumentInput, error), ifVersion int64) (*hubapi.Document, error) {
	p, err := allow(ctx, hubapi.ResourceDocuments, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var d *hubapi.Document
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := documentRows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		in.Normalize()
		if err := in.Validate(); err != nil {
			return err
		}
		if err := mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id"); err != nil {
			return err
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		d = cur
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventDocumentUpdated, "documents", d.ID, d)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteDocument implements hubapi.DocumentService; the content is removed
// after the metadata.
func (s *Service) DeleteDocument(ctx context.Context, id int64, ifVersion int64) error {
	d, err := remove(ctx, s, documentRows, hubapi.EventDocumentDeleted, id, ifVersion, nil)
	if err != nil {
		return err
	}
	_ = s.blobs.Delete(context.WithoutCancel(ctx), d.StorageKey)
	return nil
}

// OpenDocument implements hubapi.DocumentService.
func (s *Service) OpenDocument(ctx context.Context, id int64) (*hubapi.Document, io.ReadSeekCloser, error) {
	d, err := s.GetDocument(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.blobs.Open(ctx, d.StorageKey)
	if err != nil {
		return nil, nil, err
	}
	return d, rc, nil
}
