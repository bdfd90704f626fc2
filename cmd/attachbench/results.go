package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Result is one row of the table: Attachkit's median, its baseline's, and
// their ratio (Attachkit / baseline) against the target. A row without a
// baseline compares Attachkit's own median to the target (peak RSS, error
// counts) or reports it without a target.
type Result struct {
	Scenario  string    `json:"scenario"`
	Unit      string    `json:"unit"`
	Attachkit float64   `json:"attachkit"`
	Baseline  float64   `json:"baseline,omitempty"`
	Versus    string    `json:"versus,omitempty"` // what the baseline is
	Ratio     float64   `json:"ratio,omitempty"`
	Target    string    `json:"target,omitempty"` // ">= 0.5", "<= 64"
	Pass      *bool     `json:"pass,omitempty"`
	Samples   []float64 `json:"attachkitSamples,omitempty"`
	BSamples  []float64 `json:"baselineSamples,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// Curve is one line of the chart: Y over X.
type Curve struct {
	Panel string    `json:"panel"` // which chart it belongs to
	Name  string    `json:"name"`
	X     []float64 `json:"x"`
	Y     []float64 `json:"y"`
}

// add records a row with its samples and prints it.
func (b *bench) add(r *Result) {
	if len(r.Samples) > 0 {
		r.Attachkit = median(r.Samples)
	}
	if len(r.BSamples) > 0 {
		r.Baseline = median(r.BSamples)
	}
	value := r.Attachkit
	if r.Baseline != 0 {
		r.Ratio = r.Attachkit / r.Baseline
		value = r.Ratio
	}
	if r.Target != "" {
		op, lim := parseTarget(r.Target)
		ok := value >= lim
		if op == "<=" {
			ok = value <= lim
		}
		r.Pass = &ok
	}
	b.Results = append(b.Results, r)
	fmt.Fprintf(b.out, "  %-34s %s\n", r.Scenario, rowSummary(r))
}

// curve adds a point to the named line of a chart panel.
func (b *bench) curve(panel, name string, x, y float64) {
	for _, c := range b.Curves {
		if c.Panel == panel && c.Name == name {
			c.X, c.Y = append(c.X, x), append(c.Y, y)
			return
		}
	}
	b.Curves = append(b.Curves, &Curve{Panel: panel, Name: name, X: []float64{x}, Y: []float64{y}})
}

func parseTarget(t string) (string, float64) {
	op, v, _ := strings.Cut(t, " ")
	var lim float64
	fmt.Sscan(v, &lim)
	return op, lim
}

func rowSummary(r *Result) string {
	s := fmt.Sprintf("%s %s", num(r.Attachkit), r.Unit)
	if r.Baseline != 0 {
		s += fmt.Sprintf(" vs %s %s (%s): ratio %.2f", num(r.Baseline), r.Unit, r.Versus, r.Ratio)
	}
	if r.Pass != nil {
		s += fmt.Sprintf(", target %s: %s", r.Target, passWord(r.Pass))
	}
	return s
}

func passWord(p *bool) string {
	switch {
	case p == nil:
		return "-"
	case *p:
		return "pass"
	}
	return "MISS"
}

// num prints a measurement with three significant digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// printTable writes the summary table.
func printTable(w io.Writer, rs []*Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tunit\tAttachkit\tbaseline\tversus\tratio\ttarget\tresult")
	for _, r := range rs {
		base, ratio := "-", "-"
		if r.Baseline != 0 {
			base, ratio = num(r.Baseline), fmt.Sprintf("%.2f", r.Ratio)
		}
		target := r.Target
		if target == "" {
			target = "-"
		}
		versus := r.Versus
		if versus == "" {
			versus = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Unit, num(r.Attachkit), base, versus, ratio, target, passWord(r.Pass))
	}
	tw.Flush()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// percentile returns the p-th percentile (0-100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// alternate measures a and b in turn for rounds rounds, a first in even
// rounds and b first in odd ones, and returns each side's samples. A first
// round, not recorded, warms both up (caches, connections, a fresh WAL).
func alternate(rounds int, a, b func() (float64, error)) (as, bs []float64, err error) {
	if _, err := a(); err != nil {
		return nil, nil, err
	}
	if _, err := b(); err != nil {
		return nil, nil, err
	}
	for i := range rounds {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		x, err := first()
		if err != nil {
			return nil, nil, err
		}
		y, err := second()
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			x, y = y, x
		}
		as, bs = append(as, x), append(bs, y)
	}
	return as, bs, nil
}

// throughput runs op from clients goroutines for d and returns operations
// per second; the first error stops it.
func throughput(clients int, d time.Duration, op func() error) (float64, error) {
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		once sync.Once
		err  error
		stop atomic.Bool
	)
	t0 := time.Now()
	deadline := t0.Add(d)
	for range clients {
		wg.Go(func() {
			for !stop.Load() && time.Now().Before(deadline) {
				if e := op(); e != nil {
					once.Do(func() { err = e })
					stop.Store(true)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(t0).Seconds(), nil
}
