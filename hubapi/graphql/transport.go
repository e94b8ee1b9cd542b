package graphql

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"sync"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Media types of GraphQL over HTTP.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// postTransport is GraphQL over HTTP's POST: a JSON request body, the
// answer in the media type the client accepts. It writes the response
// itself: the data gqlgen produced is copied as it is (json.Marshal of the
// response would scan it again to compact it), and a request error carries
// no "data" member, as the specification asks.
type postTransport struct{}

var _ gql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec gql.GraphExecutor) {
	ct := responseMediaType(r)
	w.Header().Set("Content-Type", ct)
	ctx := r.Context()
	start := gql.Now()
	params := &gql.RawParams{}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, &gql.Response{Errors: gqlerror.List{{Message: "The body is not a GraphQL request in JSON."}}}, false)
		return
	}
	params.Headers = r.Header
	params.ReadTime = gql.TraceTiming{Start: start, End: gql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		status := http.StatusOK
		if ct == mediaGraphQLResponse && errcode.GetErrorKind(errs) == errcode.KindProtocol {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(gql.WithOperationContext(ctx, oc), errs), false)
		return
	}
	responses, rctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, responses(rctx), true)
}

// responseMediaType is application/graphql-response+json when the client
// accepts it, application/json otherwise (no Accept, */*, or only
// application/json), as GraphQL over HTTP has it.
func responseMediaType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		}
	}
	if accept == "" {
		return mediaJSON
	}
	return mediaGraphQLResponse
}

var responseBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeResponse writes {"errors":…,"data":…,"extensions":…}; data is left
// out of request errors (withData false).
func writeResponse(w http.ResponseWriter, resp *gql.Response, withData bool) {
	buf := responseBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			responseBufs.Put(buf)
		}
	}()
	buf.WriteByte('{')
	sep := func() {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
	}
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"An internal error occurred."}]`)
		}
		buf.WriteString(`"errors":`)
		buf.Write(b)
	}
	if withData {
		sep()
		buf.WriteString(`"data":`)
		if len(resp.Data) == 0 {
			buf.WriteString("null")
		} else {
			buf.Write(resp.Data)
		}
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			sep()
			buf.WriteString(`"extensions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}
