// Package promtext checks a Prometheus text exposition (format 0.0.4) for
// what `promtool check metrics` and Prometheus need from every metric
// family: a one-line HELP text and a TYPE, written once, before the family's
// samples. Tests use it so that the check runs where promtool is not
// installed.
package promtext

import (
	"fmt"
	"strings"
)

// Family is one metric family of an exposition.
type Family struct {
	Name, Help, Type string
	Samples          int
}

// Parse returns the families of an exposition in order of appearance, and
// every problem found: a family whose samples come without a TYPE or a HELP
// text, a HELP or TYPE line repeated or written after the family's samples,
// an unknown type, a family whose samples are not contiguous, a sample line
// without a value. A sample belongs to the family of its name, or for
// histograms and summaries to the family its _bucket, _sum or _count suffix
// extends.
func Parse(text string) ([]*Family, []string) {
	var (
		fams     []*Family
		byName   = map[string]*Family{}
		problems []string
		last     *Family
		closed   = map[string]bool{} // families whose samples have ended
	)
	family := func(name string) *Family {
		f := byName[name]
		if f == nil {
			f = &Family{Name: name}
			byName[name] = f
			fams = append(fams, f)
		}
		return f
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		switch {
		case line == "":
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			name, rest, _ := strings.Cut(line[len("# HELP "):], " ")
			f := family(name)
			if f.Samples > 0 {
				problems = append(problems, fmt.Sprintf("line %d: %s metadata after its samples", n, name))
			}
			if line[2] == 'H' {
				if f.Help != "" {
					problems = append(problems, fmt.Sprintf("line %d: %s has a second HELP line", n, name))
				}
				f.Help = strings.TrimSpace(rest)
				if f.Help == "" {
					f.Help = " " // seen, but empty: reported below
				}
				continue
			}
			if f.Type != "" {
				problems = append(problems, fmt.Sprintf("line %d: %s has a second TYPE line", n, name))
			}
			switch rest {
			case "counter", "gauge", "histogram", "summary", "untyped":
				f.Type = rest
			default:
				problems = append(problems, fmt.Sprintf("line %d: %s has an unknown type %q", n, name, rest))
				f.Type = "?"
			}
		case strings.HasPrefix(line, "#"):
		default:
			name := line
			if j := strings.IndexAny(line, "{ "); j >= 0 {
				name = line[:j]
			}
			if !strings.Contains(line, " ") {
				problems = append(problems, fmt.Sprintf("line %d: sample without a value: %q", n, line))
			}
			f := byName[name]
			if f == nil || f.Type == "" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base, ok := strings.CutSuffix(name, suffix)
					if b := byName[base]; ok && b != nil && (b.Type == "histogram" || b.Type == "summary") {
						f = b
						break
					}
				}
			}
			if f == nil {
				f = family(name)
			}
			if last != f {
				if last != nil {
					closed[last.Name] = true
				}
				if closed[f.Name] {
					problems = append(problems, fmt.Sprintf("line %d: samples of %s are not contiguous", n, f.Name))
				}
				last = f
			}
			f.Samples++
		}
	}
	for _, f := range fams {
		switch {
		case f.Help == "":
			problems = append(problems, f.Name+": no HELP line")
		case f.Help == " ":
			problems = append(problems, f.Name+": empty HELP text")
			f.Help = ""
		}
		if f.Type == "" {
			problems = append(problems, f.Name+": no TYPE line")
		}
	}
	return fams, problems
}
