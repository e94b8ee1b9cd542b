package pagination

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

// The plaintext sealed in a cursor:
//
//	flags    1 byte   bit 0 backward, bit 1 inclusive
//	issued   varint   Unix seconds
//	query    16 bytes fingerprint
//	count    uvarint  number of values
//	values   tag byte + data each (see the tag constants)
//
// Only authenticated plaintext reaches parsePayload, but it is still parsed
// defensively: it must consume the input exactly and never panic.

const (
	flagBackward  = 1 << 0
	flagInclusive = 1 << 1
)

const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt    // zigzag varint
	tagFloat  // 8 bytes, IEEE 754 big-endian
	tagString // uvarint length + bytes
	tagBytes  // uvarint length + bytes
	tagTime   // varint Unix seconds + uvarint nanoseconds
)

var errPayload = errors.New("pagination: malformed cursor payload")

func appendPayload(b []byte, cur Cursor, fp Fingerprint, now time.Time) ([]byte, error) {
	var flags byte
	if cur.Backward {
		flags |= flagBackward
	}
	if cur.Inclusive {
		flags |= flagInclusive
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, now.Unix())
	b = append(b, fp[:]...)
	b = binary.AppendUvarint(b, uint64(len(cur.Values)))
	for i, v := range cur.Values {
		var err error
		if b, err = appendValue(b, v); err != nil {
			return nil, fmt.Errorf("pagination: cursor value %d: %w", i, err)
		}
	}
	return b, nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case string:
		b = binary.AppendUvarint(append(b, tagString), uint64(len(x)))
		return append(b, x...), nil
	case []byte:
		if x == nil {
			return append(b, tagNull), nil
		}
		b = binary.AppendUvarint(append(b, tagBytes), uint64(len(x)))
		return append(b, x...), nil
	case time.Time:
		b = binary.AppendVarint(append(b, tagTime), x.Unix())
		return binary.AppendUvarint(b, uint64(x.Nanosecond())), nil // #nosec G115 -- Nanosecond is in [0, 1e9)
	}
	// Other types: map to a canonical one (never one of the other types
	// again, so this recursion is one level deep).
	nv, err := normalizeValue(v)
	if err != nil {
		return nil, err
	}
	switch nv.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time:
		return appendValue(b, nv)
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

// normalizeValue maps a Go value read from a row to one of the canonical
// cursor types: nil, bool, int64, float64, string, []byte, time.Time.
func normalizeValue(v any) (any, error) {
	for depth := 0; depth < 8; depth++ {
		switch x := v.(type) {
		case nil, bool, int64, float64, string:
			return x, nil
		case []byte:
			if x == nil { // database/sql sends a nil []byte as NULL
				return nil, nil
			}
			return x, nil
		case time.Time:
			return x.UTC(), nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int8:
			return int64(x), nil
		case uint8:
			return int64(x), nil
		case uint16:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		case uint:
			if uint64(x) > math.MaxInt64 {
				return nil, errors.New("unsigned value exceeds int64")
			}
			return int64(x), nil // #nosec G115 -- range checked above
		case uint64:
			if x > math.MaxInt64 {
				return nil, errors.New("unsigned value exceeds int64")
			}
			return int64(x), nil // #nosec G115 -- range checked above
		case float32:
			return float64(x), nil
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil, nil
			}
		}
		if valuer, ok := v.(driver.Valuer); ok {
			dv, err := valuer.Value()
			if err != nil {
				return nil, err
			}
			v = dv
			continue
		}
		switch rv.Kind() {
		case reflect.Pointer:
			v = rv.Elem().Interface()
		case reflect.Bool:
			v = rv.Bool()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v = rv.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			v = rv.Uint()
		case reflect.Float32, reflect.Float64:
			v = rv.Float()
		case reflect.String:
			v = rv.String()
		case reflect.Slice:
			if rv.Type().Elem().Kind() != reflect.Uint8 {
				return nil, fmt.Errorf("unsupported type %T", v)
			}
			v = rv.Bytes()
		case reflect.Struct:
			if rv.Type().ConvertibleTo(timeType) {
				v = rv.Convert(timeType).Interface()
				continue
			}
			return nil, fmt.Errorf("unsupported type %T", v)
		default:
			return nil, fmt.Errorf("unsupported type %T", v)
		}
	}
	return nil, errors.New("value nests too deeply")
}

var timeType = reflect.TypeFor[time.Time]()

// payloadReader reads the plaintext; the first failure sticks.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errPayload
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *payloadReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errPayload
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errPayload
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errPayload
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func parsePayload(b []byte) (Cursor, Fingerprint, time.Time, error) {
	r := payloadReader{b: b}
	var cur Cursor
	var fp Fingerprint
	flags := r.byte()
	if flags&^(flagBackward|flagInclusive) != 0 {
		return Cursor{}, fp, time.Time{}, errPayload
	}
	cur.Backward = flags&flagBackward != 0
	cur.Inclusive = flags&flagInclusive != 0
	issued := time.Unix(r.varint(), 0)
	copy(fp[:], r.bytes(uint64(len(fp))))
	n := r.uvarint()
	if r.err != nil || n > maxValues {
		return Cursor{}, fp, time.Time{}, errPayload
	}
	cur.Values = make([]any, 0, n)
	for range n {
		v, err := readValue(&r)
		if err != nil {
			return Cursor{}, fp, time.Time{}, err
		}
		cur.Values = append(cur.Values, v)
	}
	if r.err != nil || len(r.b) != 0 {
		return Cursor{}, fp, time.Time{}, errPayload
	}
	return cur, fp, issued, nil
}

func readValue(r *payloadReader) (any, error) {
	var v any
	switch tag := r.byte(); tag {
	case tagNull:
		v = nil
	case tagFalse:
		v = false
	case tagTrue:
		v = true
	case tagInt:
		v = r.varint()
	case tagFloat:
		b := r.bytes(8)
		if r.err == nil {
			v = math.Float64frombits(binary.BigEndian.Uint64(b))
		}
	case tagString:
		v = string(r.bytes(r.uvarint()))
	case tagBytes:
		v = append([]byte{}, r.bytes(r.uvarint())...)
	case tagTime:
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			return nil, errPayload
		}
		v = time.Unix(sec, int64(nsec)).UTC() // #nosec G115 -- nsec < 1e9 checked above
	default:
		return nil, errPayload
	}
	if r.err != nil {
		return nil, r.err
	}
	return v, nil
}
