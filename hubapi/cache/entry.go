package cache

import (
	"encoding/binary"
	"errors"
	"math"
)

// An entry is one stored response. Its binary layout:
//
//	format(1) storedAt(8) expires(8) status(2)
//	uvarint len, key
//	uvarint count, then per header: flags(1) uvarint len, name, uvarint count, (uvarint len, value)...
//	body (the rest)
//
// Times are Unix nanoseconds: bigcache has no per-entry TTL and returns
// expired entries until its cleaner runs, so expiry is checked here. The
// full key is stored so that a read can reject an entry written under
// another key whose hash collided with it.
type entry struct {
	storedAt int64
	expires  int64
	status   int
	headers  []storedHeader
	body     []byte
}

// storedHeader is what the handler contributed to one response field: when
// replace is false its values were appended to those set by outer
// middleware and are appended again on replay; when true they replaced them.
type storedHeader struct {
	name    string
	replace bool
	values  []string
}

const (
	entryFormat     = 1
	entryFixed      = 1 + 8 + 8 + 2
	maxEntryHeaders = 64
	maxHeaderValues = 64
	flagReplace     = 1
)

var (
	errCorrupt     = errors.New("cache: corrupt entry")
	errKeyMismatch = errors.New("cache: entry key mismatch (hash collision)")
	errEncode      = errors.New("cache: response cannot be encoded")
)

// encodeEntry serialises e stored under key.
func encodeEntry(key string, e *entry) ([]byte, error) {
	if e.status < 100 || e.status > 999 || len(e.headers) > maxEntryHeaders {
		return nil, errEncode
	}
	n := entryFixed + binary.MaxVarintLen64*2 + len(key) + len(e.body)
	for _, h := range e.headers {
		if len(h.values) > maxHeaderValues {
			return nil, errEncode
		}
		n += 1 + 2*binary.MaxVarintLen64 + len(h.name)
		for _, v := range h.values {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, entryFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(e.storedAt)) // #nosec G115 -- two's complement round trip
	b = binary.BigEndian.AppendUint64(b, uint64(e.expires))  // #nosec G115 -- two's complement round trip
	b = binary.BigEndian.AppendUint16(b, uint16(e.status))   // #nosec G115 -- checked above: 100..999
	b = appendBytes(b, key)
	b = binary.AppendUvarint(b, uint64(len(e.headers)))
	for _, h := range e.headers {
		var flags byte
		if h.replace {
			flags = flagReplace
		}
		b = append(b, flags)
		b = appendBytes(b, h.name)
		b = binary.AppendUvarint(b, uint64(len(h.values)))
		for _, v := range h.values {
			b = appendBytes(b, v)
		}
	}
	return append(b, e.body...), nil
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeEntry parses b, which must have been stored under key. Header names
// found in names are shared with it instead of allocated. The body aliases b.
func decodeEntry(b []byte, key string, names []string) (*entry, error) {
	if len(b) < entryFixed || b[0] != entryFormat {
		return nil, errCorrupt
	}
	e := &entry{
		storedAt: int64(binary.BigEndian.Uint64(b[1:])), // #nosec G115 -- two's complement round trip
		expires:  int64(binary.BigEndian.Uint64(b[9:])), // #nosec G115 -- two's complement round trip
		status:   int(binary.BigEndian.Uint16(b[17:])),
	}
	if e.status < 100 || e.status > 999 {
		return nil, errCorrupt
	}
	d := decoder{b: b[entryFixed:]}
	k := d.bytes()
	if d.err != nil {
		return nil, d.err
	}
	if string(k) != key {
		return nil, errKeyMismatch
	}
	nh := d.count(maxEntryHeaders)
	if nh > 0 {
		e.headers = make([]storedHeader, 0, nh)
	}
	for i := 0; i < nh && d.err == nil; i++ {
		var h storedHeader
		flags := d.byte()
		h.replace = flags&flagReplace != 0
		h.name = d.name(names)
		nv := d.count(maxHeaderValues)
		if nv > 0 {
			h.values = make([]string, 0, nv)
		}
		for j := 0; j < nv && d.err == nil; j++ {
			h.values = append(h.values, string(d.bytes()))
		}
		e.headers = append(e.headers, h)
	}
	if d.err != nil {
		return nil, d.err
	}
	e.body = d.b
	return e, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) count(limit uint8) int {
	v := d.uvarint()
	if v > uint64(limit) {
		d.err = errCorrupt
		return 0
	}
	return int(v) // #nosec G115 -- bounded by limit
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) || n > math.MaxInt32 {
		d.err = errCorrupt
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) name(names []string) string {
	s := d.bytes()
	for _, n := range names {
		if string(s) == n {
			return n
		}
	}
	return string(s)
}
