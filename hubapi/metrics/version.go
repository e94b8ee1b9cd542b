package metrics

import (
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"
)

// API versions: the values of the "version" label of
// api_version_requests_total. APIRequest records any other value as
// VersionOther.
const (
	VersionV1    = "v1"
	VersionV2    = "v2"
	VersionOther = "other"
)

// DefaultMaxKeys bounds the distinct key_id label values of
// api_v1_requests_by_key_total; requests of further keys count under
// key_id="other".
const DefaultMaxKeys = 10000

// APIRequest counts an API request by version
// (api_version_requests_total{version}) and, for v1 requests made with an
// API key (keyID > 0), by key (api_v1_requests_by_key_total{key_id}), so
// that operators see which integrations still have to migrate to v2. The
// key id is the key's database id, never its secret or prefix.
func (m *Metrics) APIRequest(version string, keyID int64) {
	if m == nil {
		return
	}
	c := m.versions[version]
	if c == nil {
		c = m.versions[VersionOther]
	}
	c.Inc()
	if version != VersionV1 || keyID <= 0 {
		return
	}
	m.v1KeyCounter(keyID).Inc()
}

func (m *Metrics) v1KeyCounter(keyID int64) *vm.Counter {
	if c := (*m.v1Keys.Load())[keyID]; c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.v1Keys.Load()
	if c := old[keyID]; c != nil {
		return c
	}
	if len(old) >= DefaultMaxKeys {
		return m.set.GetOrCreateCounter(`api_v1_requests_by_key_total{key_id="other"}`)
	}
	c := m.set.GetOrCreateCounter(`api_v1_requests_by_key_total{key_id="` + strconv.FormatInt(keyID, 10) + `"}`)
	next := make(map[int64]*vm.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[keyID] = c
	m.v1Keys.Store(&next)
	return c
}
