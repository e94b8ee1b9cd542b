package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole run, as printed and as written by --json.
type report struct {
	Tool        string        `json:"tool"`
	Started     time.Time     `json:"started"`
	Machine     machine       `json:"machine"`
	Database    dbInfo        `json:"database"`
	Settings    settings      `json:"settings"`
	Phases      []phaseReport `json:"phases"`
	Comparisons []comparison  `json:"comparisons"`
	Notes       []string      `json:"notes"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

type dbInfo struct {
	URL       string `json:"url"`
	Chantiers int64  `json:"chantiers"`
	Reused    bool   `json:"reused"`
}

type settings struct {
	Load        string   `json:"load"` // "closed loop, 100 clients" or "open loop, 500 req/s"
	Concurrency int      `json:"concurrency"`
	Rate        int      `json:"rate,omitempty"`
	DurationS   float64  `json:"duration_s"`
	WarmupS     float64  `json:"warmup_s"`
	Mix         string   `json:"mix"`
	Skip        []string `json:"skip,omitempty"`
	Cache       string   `json:"cache"`
	RateLimits  string   `json:"rate_limits,omitempty"`
}

type phaseReport struct {
	Name          string  `json:"name"`
	Target        string  `json:"target"`
	ElapsedS      float64 `json:"elapsed_s"`
	LoadAvgBefore string  `json:"loadavg_before"`
	LoadAvgAfter  string  `json:"loadavg_after"`
	// Unsent counts, in the open loop, requests due during the run but not
	// answered within --timeout after its end (not in the latencies).
	Unsent int64 `json:"unsent"`
	// ProcessCPUS is the CPU time of the hubbench process during the phase:
	// the load generator and the in-process server, not PostgreSQL.
	// CPUPerRequestUS divides it by the requests measured: unlike req/s it
	// hardly moves with other work on the machine.
	ProcessCPUS     float64          `json:"process_cpu_s,omitempty"`
	CPUPerRequestUS float64          `json:"process_cpu_us_per_request,omitempty"`
	Scenarios       []scenarioReport `json:"scenarios"`
	Overall         scenarioReport   `json:"overall"`
}

type scenarioReport struct {
	Name            string           `json:"name"`
	Requests        int64            `json:"requests"`
	RPS             float64          `json:"rps"`
	MeanMS          float64          `json:"mean_ms"`
	P50MS           float64          `json:"p50_ms"`
	P95MS           float64          `json:"p95_ms"`
	P99MS           float64          `json:"p99_ms"`
	MaxMS           float64          `json:"max_ms"`
	Statuses        map[string]int64 `json:"statuses"`
	Errors          int64            `json:"errors"`           // transport errors and statuses ≥ 400
	ServerErrors    int64            `json:"server_errors"`    // statuses ≥ 500
	TransportErrors int64            `json:"transport_errors"` // no HTTP response
}

type comparison struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Detail string  `json:"detail"`
}

func newReport() *report {
	return &report{Tool: "hubbench", Started: time.Now().UTC(), Phases: []phaseReport{},
		Comparisons: []comparison{}, Notes: []string{},
		Machine: machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarize(name string, s *scenarioStats, elapsed time.Duration) scenarioReport {
	r := scenarioReport{Name: name, Requests: int64(s.hist.n), // #nosec G115 -- a phase is bounded by --max-requests (1e8)
		Statuses: map[string]int64{}, TransportErrors: s.transport}
	if elapsed > 0 {
		r.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	r.MeanMS, r.P50MS, r.P95MS, r.P99MS = ms(s.hist.mean()), ms(s.hist.quantile(0.50)), ms(s.hist.quantile(0.95)), ms(s.hist.quantile(0.99))
	r.MaxMS = ms(toDuration(s.hist.max))
	r.Errors = s.transport
	for st, n := range s.statuses {
		r.Statuses[strconv.Itoa(st)] = n
		if st >= 400 {
			r.Errors += n
		}
		if st >= 500 {
			r.ServerErrors += n
		}
	}
	return r
}

func (rep *report) addPhase(name, target string, mix []scenario, res *runResult, before, after string) *phaseReport {
	p := phaseReport{Name: name, Target: target, ElapsedS: res.elapsed.Seconds(), LoadAvgBefore: before, LoadAvgAfter: after, Unsent: res.unsent}
	var all scenarioStats
	for i, sc := range mix {
		p.Scenarios = append(p.Scenarios, summarize(sc.name, &res.stats[i], res.elapsed))
		all.merge(&res.stats[i])
	}
	p.Overall = summarize("overall", &all, res.elapsed)
	if res.cpuKnown {
		p.ProcessCPUS = res.cpu.Seconds()
		if p.Overall.Requests > 0 {
			p.CPUPerRequestUS = float64(res.cpu.Microseconds()) / float64(p.Overall.Requests)
		}
	}
	rep.Phases = append(rep.Phases, p)
	return &rep.Phases[len(rep.Phases)-1]
}

func (rep *report) phase(name string) *phaseReport {
	for i := range rep.Phases {
		if rep.Phases[i].Name == name {
			return &rep.Phases[i]
		}
	}
	return nil
}

func (p *phaseReport) scenario(name string) *scenarioReport {
	for i := range p.Scenarios {
		if p.Scenarios[i].Name == name {
			return &p.Scenarios[i]
		}
	}
	return nil
}

// compare derives the ratios the performance budget is judged on.
func (rep *report) compare() {
	bare := rep.phase("bare")
	for _, name := range []string{"full", "full+cache"} {
		full := rep.phase(name)
		if full == nil || bare == nil || bare.Overall.RPS == 0 {
			continue
		}
		rep.Comparisons = append(rep.Comparisons, comparison{Name: name + "/bare throughput", Value: round2(full.Overall.RPS / bare.Overall.RPS),
			Detail: fmt.Sprintf("%.0f vs %.0f req/s", full.Overall.RPS, bare.Overall.RPS)})
	}
	// GraphQL against REST on the same page of 50 (mix page50)
	for _, name := range []string{"full", "full+cache"} {
		rest, gql := rep.phase(name+"/rest"), rep.phase(name+"/graphql")
		if rest == nil || gql == nil || rest.Overall.RPS == 0 {
			continue
		}
		rep.Comparisons = append(rep.Comparisons, comparison{Name: name + " graphql/rest throughput (page of 50)", Value: round2(gql.Overall.RPS / rest.Overall.RPS),
			Detail: fmt.Sprintf("%.0f vs %.0f pages/s", gql.Overall.RPS, rest.Overall.RPS)})
		if rest.CPUPerRequestUS > 0 {
			rep.Comparisons = append(rep.Comparisons, comparison{Name: name + " graphql/rest CPU per page", Value: round2(gql.CPUPerRequestUS / rest.CPUPerRequestUS),
				Detail: fmt.Sprintf("%.0f vs %.0f µs", gql.CPUPerRequestUS, rest.CPUPerRequestUS)})
		}
	}
	// Deep pages against the first page (offset mode, counted) and against
	// the early keyset pages 2 to 50 of the walks.
	for _, p := range rep.Phases {
		deep := p.scenario("list-deep")
		for _, base := range []struct{ scenario, label string }{{"list-first", "first-page"}, {"list-next", "early-page"}} {
			b := p.scenario(base.scenario)
			if deep == nil || b == nil || b.P95MS == 0 {
				continue
			}
			rep.Comparisons = append(rep.Comparisons, comparison{Name: p.Name + " deep/" + base.label + " p95", Value: round2(deep.P95MS / b.P95MS),
				Detail: fmt.Sprintf("%.2f vs %.2f ms", deep.P95MS, b.P95MS)})
		}
	}
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// print writes the human-readable tables.
func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "hubbench — %d CPUs, GOMAXPROCS %d, %s; database %s (%d chantiers)\n", rep.Machine.CPUs, rep.Machine.GOMAXPROCS,
		rep.Machine.GoVersion, rep.Database.URL, rep.Database.Chantiers)
	fmt.Fprintf(w, "load: %s, %s per phase after %s warm-up, mix %q", rep.Settings.Load,
		time.Duration(rep.Settings.DurationS*float64(time.Second)), time.Duration(rep.Settings.WarmupS*float64(time.Second)), rep.Settings.Mix)
	if len(rep.Settings.Skip) > 0 {
		fmt.Fprintf(w, " without %s", strings.Join(rep.Settings.Skip, ", "))
	}
	fmt.Fprintln(w)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, p := range rep.Phases {
		fmt.Fprintf(w, "\n[%s] %s — %.1fs, load average %s → %s", p.Name, p.Target, p.ElapsedS, p.LoadAvgBefore, p.LoadAvgAfter)
		if p.ProcessCPUS > 0 {
			fmt.Fprintf(w, "; process CPU %.1fs, %.0f µs/request", p.ProcessCPUS, p.CPUPerRequestUS)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\tstatuses\t")
		for _, s := range append(slices.Clone(p.Scenarios), p.Overall) {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", s.Name, s.Requests, s.RPS, s.P50MS, s.P95MS, s.P99MS, s.MaxMS,
				s.Errors, statusList(s))
		}
		_ = tw.Flush()
		if p.Unsent > 0 {
			fmt.Fprintf(w, "unsent: %d requests due during the run were not answered within the timeout after it\n", p.Unsent)
		}
	}
	if len(rep.Comparisons) > 0 {
		fmt.Fprintln(w)
		for _, c := range rep.Comparisons {
			fmt.Fprintf(w, "%-32s %6.2f  (%s)\n", c.Name, c.Value, c.Detail)
		}
	}
}

func statusList(s scenarioReport) string {
	keys := make([]string, 0, len(s.Statuses))
	for k := range s.Statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", k, s.Statuses[k])
	}
	if s.TransportErrors > 0 {
		fmt.Fprintf(&b, " transport:%d", s.TransportErrors)
	}
	return b.String()
}

func (rep *report) writeJSON(path string, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// loadAvg is the 1-, 5- and 15-minute load average ("n/a" off Linux):
// other work on the machine shows in the figures, so it goes with them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
