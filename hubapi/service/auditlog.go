package service

import (
	"context"
	"encoding/json"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

var _ hubapi.AuditLogService = (*Service)(nil)

// ListAuditLogs implements hubapi.AuditLogService.
func (s *Service) ListAuditLogs(ctx context.Context, f audit.Filter, pr hubapi.PageRequest) (*hubapi.Page[audit.Event], error) {
	p := hubapi.PrincipalFrom(ctx)
	switch {
	case p == nil:
		return nil, hubapi.ErrUnauthenticated
	case !p.IsAdmin():
		return nil, hubapi.Errorf(hubapi.ErrForbidden, "only admins read the audit trail")
	}
	fp, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	if s.audit == nil {
		return &hubapi.Page[audit.Event]{Items: []audit.Event{}, Total: -1}, nil
	}
	pager := s.auditPager()
	req, err := pager.NewRequest("", pr.Limit, pr.Cursor, string(fp))
	if err != nil {
		return nil, err
	}
	// Meta-audit: the read is recorded before anything is read, in its own
	// transaction; no record, no read.
	if err := s.audit.Append(ctx, s.audit.DB(), audit.NewAccess(ctx, "read_audit_logs", "audit_logs", "", f)); err != nil {
		return nil, err
	}
	pg, err := s.audit.Fetch(ctx, pager, f, req)
	if err != nil {
		return nil, err
	}
	items := pg.Data
	if items == nil {
		items = []audit.Event{}
	}
	return &hubapi.Page[audit.Event]{Items: items, NextCursor: pg.Pagination.NextCursor, PrevCursor: pg.Pagination.PrevCursor,
		HasMore: pg.Pagination.HasMore, Total: -1, Limit: req.Limit()}, nil
}

// auditPager is the paginator of audit events, built once.
func (s *Service) auditPager() *pagination.Paginator[audit.Event] {
	s.auditPagerOnce.Do(func() {
		p, err := audit.NewPaginator(s.codec)
		if err != nil {
			panic(err) // a constant spec: a programming error
		}
		s.auditPages = p
	})
	return s.auditPages
}
