package cache

import (
	"net/http"
	"slices"
	"strconv"
)

// recorder buffers the response of the handler run on a miss, so that it
// can be stored and handed to the requests collapsed onto this run, and
// writes it to the client when the handler returns. A body growing past the
// limit, or a Flush, switches it to writing through (the response is then
// not stored if it overflowed).
//
// Header() is the client's header map: middleware around the cache and the
// handler share it as usual. The fields in watched are snapshotted before
// the handler runs and again when it writes its header, so that only what
// the handler contributed is stored and judged (outer middleware sets its
// own fields again on every request, hits included).
type recorder struct {
	w        http.ResponseWriter
	limit    int
	watched  []string
	baseline [][]string // per watched field, before the handler ran

	status    int // final status; 0 until written
	body      []byte
	overflow  bool
	committed bool
	contrib   []storedHeader // per watched field, at WriteHeader
}

func newRecorder(w http.ResponseWriter, watched []string, limit int) *recorder {
	rw := &recorder{w: w, limit: limit, watched: watched, baseline: make([][]string, len(watched))}
	h := w.Header()
	for i, name := range watched {
		rw.baseline[i] = slices.Clone(h[name])
	}
	return rw
}

func (rw *recorder) Header() http.Header { return rw.w.Header() }

// Unwrap lets http.ResponseController reach the client's writer.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.w }

func (rw *recorder) WriteHeader(code int) {
	if rw.status != 0 {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code) // informational: sent at once, not final
		return
	}
	rw.status = code
	h := rw.w.Header()
	rw.contrib = make([]storedHeader, len(rw.watched))
	for i, name := range rw.watched {
		rw.contrib[i] = contribution(name, rw.baseline[i], h[name])
	}
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.overflow {
		if len(rw.body)+len(p) <= rw.limit {
			rw.body = append(rw.body, p...)
			if !rw.committed {
				return len(p), nil
			}
		} else {
			rw.overflow = true
			if !rw.committed {
				if err := rw.commit(); err != nil {
					return 0, err
				}
			}
			rw.body = nil
		}
	}
	return rw.w.Write(p)
}

// Flush sends what was written so far and writes through from then on.
func (rw *recorder) Flush() {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.committed {
		if rw.commit() != nil {
			return
		}
	}
	_ = http.NewResponseController(rw.w).Flush()
}

func (rw *recorder) commit() error {
	rw.committed = true
	rw.w.WriteHeader(rw.status)
	if len(rw.body) > 0 {
		_, err := rw.w.Write(rw.body) // #nosec G705 -- the handler's own response, sent unchanged
		return err
	}
	return nil
}

// finish is called after the handler returned normally: it sends a
// buffered response.
func (rw *recorder) finish() {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.committed {
		return
	}
	h := rw.w.Header()
	if rw.status == http.StatusOK && h.Get("Content-Length") == "" {
		h["Content-Length"] = []string{strconv.Itoa(len(rw.body))}
	}
	_ = rw.commit()
}

// contribution compares a field before and after the handler ran. If the
// handler kept the earlier values as a prefix, it appended the rest;
// otherwise it replaced them.
func contribution(name string, before, after []string) storedHeader {
	if len(after) >= len(before) && slices.Equal(after[:len(before)], before) {
		return storedHeader{name: name, values: slices.Clone(after[len(before):])}
	}
	return storedHeader{name: name, replace: true, values: slices.Clone(after)}
}

// replay applies stored contributions to a response header. Values shared
// with other requests (a collapsed run's response) are copied.
func replay(h http.Header, headers []storedHeader, shared bool) {
	for _, sh := range headers {
		switch {
		case sh.replace && len(sh.values) == 0:
			delete(h, sh.name)
		case sh.replace && shared:
			h[sh.name] = slices.Clone(sh.values)
		case sh.replace:
			h[sh.name] = sh.values
		case len(sh.values) > 0:
			h[sh.name] = append(h[sh.name], sh.values...)
		}
	}
}
