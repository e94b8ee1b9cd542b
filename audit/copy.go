package audit

// copyColumns are the columns COPY writes (the id is the sequence's).
var copyColumns = []string{"ts", "chain", "seq", "prev_hash", "hash", "stage", "request_id", "user_id", "api_key_id",
	"oauth_client", "action", "resource_type", "resource_id", "method", "route", "status", "client_ip", "user_agent",
	"pii_salt", "pii_digest", "body_sha256", "changes", "changes_salt", "changes_digest", "anonymised_at"}

// copyRows is events' values in copyColumns' order.
func copyRows(events []*Event) [][]any {
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = copyRow(e)
	}
	return rows
}

// copyRow is e's values in copyColumns' order.
func copyRow(e *Event) []any {
	nullable := func(v int64) any {
		if v == 0 {
			return nil
		}
		return v
	}
	var anonymised any
	if e.AnonymisedAt != nil {
		anonymised = *e.AnonymisedAt
	}
	return []any{e.Time, e.Chain, e.Seq, e.PrevHash, e.Hash, e.Stage, e.RequestID, nullable(e.UserID), nullable(e.APIKeyID),
		e.OAuthClient, e.Action, e.ResourceType, e.ResourceID, e.Method, e.Route, int32(e.Status), e.ClientIP, e.UserAgent, // #nosec G115 -- an HTTP status
		e.PIISalt, e.PIIDigest, e.BodySHA256, e.Changes, e.ChangesSalt, e.ChangesDigest, anonymised}
}
