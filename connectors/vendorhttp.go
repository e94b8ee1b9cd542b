package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxResponseBytes bounds a vendor answer read by DoJSON.
const MaxResponseBytes = 16 << 20

// maxRetryAfter caps the delay a vendor's Retry-After may impose.
const maxRetryAfter = time.Hour

// DoJSON sends req with client and decodes a 2xx JSON answer into out,
// classifying every failure for the Runner (see Kind): 429 with its
// Retry-After, 5xx, 401/403, other 4xx, a timeout or cancelled context,
// a body that is not the JSON expected. Its errors hold neither the URL
// (which may carry credentials) nor the body.
func DoJSON(ctx context.Context, client *http.Client, req *http.Request, out any) error {
	resp, err := client.Do(req.WithContext(ctx)) // #nosec G704 -- vendor packages fix the base URL (Options.BaseURL only on a registry allowing overrides)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, MaxResponseBytes)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		_, _ = io.Copy(io.Discard, body)
		return &Error{Kind: KindRateLimited, Status: resp.StatusCode, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Msg: "the vendor's rate limit was reached"}
	case resp.StatusCode >= 500:
		_, _ = io.Copy(io.Discard, body)
		return &Error{Kind: KindUnavailable, Status: resp.StatusCode, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Msg: "the vendor failed to answer"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &Error{Kind: KindAuth, Status: resp.StatusCode, Msg: "the vendor refused the credentials"}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &Error{Kind: KindRejected, Status: resp.StatusCode, Msg: "the vendor refused the request"}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return transportError(ctx, ctx.Err())
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &Error{Kind: KindTimeout, Status: resp.StatusCode, Msg: "the vendor's answer did not arrive in time"}
		}
		return &Error{Kind: KindMalformed, Status: resp.StatusCode, Msg: "the vendor's answer is not the JSON expected: " + jsonProblem(err)}
	}
	return nil
}

// jsonProblem says what is wrong with a body without quoting it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	}
	return "undecodable"
}

// transportError classifies a failure to get an answer, dropping the URL
// that *url.Error would print.
func transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: KindTimeout, Msg: "the vendor did not answer in time"}
	case ctx.Err() != nil:
		return &Error{Kind: KindTimeout, Msg: "cancelled: " + ctx.Err().Error()}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("connection failed (%s)", op.Op)}
	}
	return &Error{Kind: KindUnavailable, Msg: "connection failed"}
}

// ParseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay
// seconds or an HTTP date; 0 when absent or invalid; capped at one hour.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
