package metrics

import (
	"bytes"
	"io"

	vm "github.com/VictoriaMetrics/metrics"
)

// droppedFamilies are Go runtime series of the VictoriaMetrics library whose
// names break the Prometheus naming rules that `promtool check metrics`
// enforces (a "_count" suffix outside histograms and summaries, a counter
// without "_total"). Each has a better source: go_gomaxprocs for the CPUs
// the runtime uses; the binary is built without cgo; forced GCs are rare.
var droppedFamilies = map[string]bool{
	"go_cgo_calls_count": true,
	"go_cpu_count":       true,
	"go_gc_forced_count": true,
}

// writeExposition writes the series of set, then the Go runtime, process and
// file descriptor metrics, with the corrections of fixExposition.
func writeExposition(w io.Writer, set *vm.Set) {
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	vm.WriteProcessMetrics(&buf)
	vm.WriteFDMetrics(&buf)
	_, _ = w.Write(fixExposition(buf.Bytes()))
}

// fixExposition returns the exposition b corrected so that it lints clean:
// the families above are left out; cumulative series typed as gauges but
// named "_total" (process_io_*_total) are typed as counters, which is what
// they are; and every HELP line (the library writes them empty) carries the
// family's text from the help table.
func fixExposition(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for len(b) > 0 {
		line := b
		rest := []byte(nil)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, rest = b[:i+1], b[i+1:]
		}
		b = rest
		var family []byte
		isHelp, isType := false, false
		switch {
		case bytes.HasPrefix(line, []byte("# HELP ")), bytes.HasPrefix(line, []byte("# TYPE ")):
			isHelp, isType = line[2] == 'H', line[2] == 'T'
			family = firstField(line[len("# TYPE "):])
		default:
			family = line
			if i := bytes.IndexAny(line, "{ "); i >= 0 {
				family = line[:i]
			}
		}
		if droppedFamilies[string(family)] {
			continue
		}
		if isHelp {
			if text := help[string(family)]; text != "" {
				out = append(out, "# HELP "...)
				out = append(out, family...)
				out = append(out, ' ')
				out = append(out, text...)
				out = append(out, '\n')
				continue
			}
		}
		if isType && bytes.HasSuffix(family, []byte("_total")) && bytes.HasSuffix(bytes.TrimRight(line, "\n"), []byte(" gauge")) {
			out = append(out, "# TYPE "...)
			out = append(out, family...)
			out = append(out, " counter\n"...)
			continue
		}
		out = append(out, line...)
	}
	return out
}

func firstField(b []byte) []byte {
	if i := bytes.IndexAny(b, " \n"); i >= 0 {
		return b[:i]
	}
	return b
}
