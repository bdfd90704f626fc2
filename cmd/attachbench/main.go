// Command attachbench measures Attachkit against its baselines and peers,
// side by side, in one process on one machine: each scenario and its
// baseline run alternately, round after round, so that a noisy neighbour
// hits both alike. It prints a table of medians and ratios against the
// targets, and can write the raw samples as JSON and draw the scaling
// curves as a PNG.
//
//	go run ./cmd/attachbench                      # quick profile (under two minutes)
//	go run ./cmd/attachbench -full -json results.json -chart docs/benchmarks.png
//	go run ./cmd/attachbench -only lifecycle,list
//
// # Scenarios
//
//	lifecycle  presign + PUT + confirm + get of 10 KB on SQLite + disk, in-process and over HTTP,
//	           1 and 8 clients, vs the same SQL transactions and synced writes done directly (≥ 0.5)
//	pocketbase 10 KB multipart uploads, 8 clients, vs a PocketBase file-field record create (≥ 2)
//	upload     a large signed PUT (quick 64 MiB, full 1 GiB) vs io.Copy to a synced file (≥ 0.5),
//	           and the process's peak RSS during it (≤ 64 MiB)
//	confirm    confirm time of the large object over a 10 KB one, local disk and S3 (≤ 2)
//	list       page latency at 10k, 100k (full: and 1M) files, first and deep pages, largest/10k (≤ 1.5)
//	thumbnail  4000×3000 JPEG to 256 px vs vipsthumbnail (≤ 1.5); a stored thumbnail served
//	           again through the Service (median ≤ 2 ms); peak RSS of 100 concurrent first
//	           thumbnail requests of 24-megapixel JPEGs (≤ 512 MiB)
//	mixed      64 HTTP clients mixing uploads, reads, lists and deletes: throughput, p50/p99, errors (0)
//
// # Peers and backends
//
// Found through the environment and PATH, and printed at the start of every run:
// ATTACH_POCKETBASE (path of a PocketBase binary built from
// github.com/pocketbase/pocketbase/examples/base), ATTACH_S3_URL (with the
// AWS_* credentials), and vipsthumbnail on PATH. A scenario whose peer is
// missing is skipped, saying so.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "attachbench:", err)
		os.Exit(1)
	}
}

// scenario is one entry of -only.
type scenario struct {
	name string
	run  func(ctx context.Context, b *bench) error
}

var scenarios = []scenario{
	{"lifecycle", runLifecycle},
	{"pocketbase", runPocketBase},
	{"upload", runUpload},
	{"confirm", runConfirm},
	{"list", runList},
	{"thumbnail", runThumbnail},
	{"mixed", runMixed},
}

// bench is one run: its profile, its peers, and what it measured.
type bench struct {
	full    bool
	dir     string // scratch space, removed at the end
	out     io.Writer
	peers   peers
	Machine machine   `json:"machine"`
	Profile string    `json:"profile"`
	Started time.Time `json:"started"`
	Results []*Result `json:"results"`
	Curves  []*Curve  `json:"curves"`
	Skipped []string  `json:"skipped,omitempty"`
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("attachbench", flag.ContinueOnError)
	fs.SetOutput(out)
	full := fs.Bool("full", false, "run every size (1 GiB uploads, 1M-file listings, 30 s of mixed load) instead of the quick profile")
	only := fs.String("only", "", "comma-separated scenarios to run (default all): "+names())
	jsonOut := fs.String("json", "", "write the raw results as JSON to this file")
	chartOut := fs.String("chart", "", "draw the scaling curves as a PNG to this file")
	tmp := fs.String("tmp", "", "scratch directory (default the system's temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	picked, err := pick(*only)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*tmp, "attachbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b := &bench{full: *full, dir: dir, out: out, Profile: "quick", Started: time.Now().UTC(), Machine: describeMachine(), peers: findPeers()}
	if b.full {
		b.Profile = "full"
	}
	fmt.Fprintf(out, "attachbench, %s profile\n", b.Profile)
	b.Machine.print(out)
	b.peers.print(out)
	for _, s := range picked {
		fmt.Fprintf(out, "\n== %s\n", s.name)
		t0 := time.Now()
		if err := s.run(ctx, b); err != nil {
			var skip skipError
			if errors.As(err, &skip) {
				msg := fmt.Sprintf("%s: skipped: %s", s.name, skip.why)
				fmt.Fprintln(out, msg)
				b.Skipped = append(b.Skipped, msg)
				continue
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(out, "(%s in %v)\n", s.name, time.Since(t0).Round(100*time.Millisecond))
	}
	fmt.Fprintln(out)
	printTable(out, b.Results)
	if *jsonOut != "" {
		data, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(out, "results:", *jsonOut)
	}
	if *chartOut != "" {
		if err := drawChart(*chartOut, b); err != nil {
			return err
		}
		fmt.Fprintln(out, "chart:", *chartOut)
	}
	return nil
}

func names() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func pick(only string) ([]scenario, error) {
	if only == "" {
		return scenarios, nil
	}
	var out []scenario
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range scenarios {
			if s.name == name {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-only: no scenario %q (have %s)", name, names())
		}
	}
	return out, nil
}

// skipError says a scenario could not run here (a peer is missing).
type skipError struct{ why string }

func (e skipError) Error() string { return "skipped: " + e.why }

// machine is what the results were measured on.
type machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	OS    string `json:"os"`
}

func describeMachine() machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS += ", " + strings.Trim(v, `"`)
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(data))
	}
	return m
}

func (m machine) print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s, %d cores, %s, %s\n", m.CPU, m.Cores, m.Go, m.OS)
}

// peers are the optional comparisons and backends found for this run.
type peers struct {
	PocketBase string // binary path
	S3URL      string
	Vips       string // vipsthumbnail path
}

func findPeers() peers {
	var p peers
	if bin := os.Getenv("ATTACH_POCKETBASE"); bin != "" {
		p.PocketBase = bin
	}
	p.S3URL = os.Getenv("ATTACH_S3_URL")
	p.Vips, _ = exec.LookPath("vipsthumbnail")
	return p
}

func (p peers) print(w io.Writer) {
	say := func(name, v, missing string) {
		if v == "" {
			fmt.Fprintf(w, "  %-12s not found (%s)\n", name+":", missing)
			return
		}
		fmt.Fprintf(w, "  %-12s %s\n", name+":", v)
	}
	fmt.Fprintln(w, "peers:")
	say("PocketBase", p.PocketBase, "set ATTACH_POCKETBASE to its binary")
	s3 := p.S3URL
	if i := strings.IndexByte(s3, '?'); i >= 0 {
		s3 = s3[:i]
	}
	say("S3", s3, "set ATTACH_S3_URL")
	say("vips", p.Vips, "vipsthumbnail is not on PATH; Debian: libvips-tools")
}
