package hubapi

import (
	"context"

	"github.com/hubchantier/hubchantier/audit"
)

// AuditLogService reads the audit trail.
type AuditLogService interface {
	// ListAuditLogs returns one keyset page of the events f selects,
	// newest first. Admins only (ErrForbidden otherwise). The read is
	// itself recorded, durably, before the page is read (meta-audit). An
	// invalid cursor or limit is a *pagination.RequestError.
	ListAuditLogs(ctx context.Context, f audit.Filter, pr PageRequest) (*Page[audit.Event], error)
}
