package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in microseconds in log-linear buckets, the
// layout of HdrHistogram: 64 sub-buckets per power of two, so a recorded
// value is reported within 1/64 (1.6 %) of its true value whatever its
// magnitude, in a fixed 59×64 array (about 30 KiB) however many samples.
type histogram struct {
	counts [histMagnitudes][histSub]uint64
	n      uint64
	sum    uint64 // µs
	min    uint64
	max    uint64
}

const (
	histSubBits    = 6
	histSub        = 1 << histSubBits
	histMagnitudes = 64 - histSubBits + 1
)

// bucket returns the magnitude and sub-bucket of v (µs).
func bucket(v uint64) (int, int) {
	if v < histSub {
		return 0, int(v)
	}
	m := bits.Len64(v) - histSubBits  // ≥ 1
	return m, int(v>>(m-1)) - histSub // #nosec G115 -- v>>(m-1) is in [64, 128)
}

// lowest returns the smallest value of bucket (m, s); highest the largest.
func lowest(m, s int) uint64 {
	if m == 0 {
		return uint64(s) // #nosec G115 -- s is a sub-bucket index in [0, 64)
	}
	return uint64(s+histSub) << (m - 1) // #nosec G115 -- s is a sub-bucket index in [0, 64)
}

func highest(m, s int) uint64 {
	if m == 0 {
		return uint64(s) // #nosec G115 -- s is a sub-bucket index in [0, 64)
	}
	return lowest(m, s) + (uint64(1) << (m - 1)) - 1
}

// record adds one latency (negative durations count as zero).
func (h *histogram) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	m, s := bucket(v)
	h.counts[m][s]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// merge adds o's samples to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for m := range o.counts {
		for s, c := range o.counts[m] {
			h.counts[m][s] += c
		}
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the ceil(q·n)-th sample, clamped to the recorded maximum,
// so a reported percentile never understates the latency.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for m := range h.counts {
		for s, c := range h.counts[m] {
			seen += c
			if c > 0 && seen >= rank {
				return toDuration(min(highest(m, s), h.max))
			}
		}
	}
	return toDuration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return toDuration(h.sum / h.n)
}

func toDuration(us uint64) time.Duration {
	if us > uint64(math.MaxInt64/int64(time.Microsecond)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(us) * time.Microsecond //nolint:gosec // bounded above
}
