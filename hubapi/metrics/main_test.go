package metrics_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// childNoMetadata marks a child test process that must run without
// ExposeMetadata (see TestNewLeavesProcessWideSettingsAlone).
const childNoMetadata = "METRICS_TEST_CHILD_NO_METADATA"

func TestMain(m *testing.M) {
	if os.Getenv(childNoMetadata) == "" {
		// As the reference server does once at start-up: the exposition
		// tests and promtool checks expect TYPE lines.
		metrics.ExposeMetadata()
	}
	os.Exit(m.Run())
}

// New must not switch on the library's process-wide metadata: run in a
// fresh process (the parent has called ExposeMetadata), a set that is not
// ours stays untyped after New, and so does our own exposition; with
// ExposeMetadata both are typed.
func TestNewLeavesProcessWideSettingsAlone(t *testing.T) {
	if os.Getenv(childNoMetadata) != "" {
		m := newMetrics(t, metrics.Config{})
		other := vm.NewSet()
		other.NewCounter("foreign_total").Inc()
		var b bytes.Buffer
		other.WritePrometheus(&b)
		if strings.Contains(b.String(), "# TYPE") {
			t.Fatalf("New switched on TYPE lines for every set of the process:\n%s", b.String())
		}
		if strings.Contains(exposition(m), "# TYPE api_requests_in_flight") {
			t.Fatal("TYPE lines without ExposeMetadata")
		}
		metrics.ExposeMetadata()
		if !strings.Contains(exposition(m), "# TYPE api_requests_in_flight gauge\n") {
			t.Fatal("no TYPE line after ExposeMetadata")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewLeavesProcessWideSettingsAlone$", "-test.count=1")
	cmd.Env = append(os.Environ(), childNoMetadata+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child process: %v\n%s", err, out)
	}
}
