package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/benchkit"
)

// mixedOps are the operations of the mixed load and their weights.
var mixedOps = []struct {
	name   string
	weight int
}{{"upload", 30}, {"read", 40}, {"list", 20}, {"delete", 10}}

// pool is the set of files the mixed load reads and deletes.
type pool struct {
	mu      sync.Mutex
	ids     []string
	deleted map[string]bool
}

func (p *pool) add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
}

// pick returns a random file, and removes it when take is set.
func (p *pool) pick(rnd *rand.Rand, take bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return ""
	}
	i := rnd.IntN(len(p.ids))
	id := p.ids[i]
	if take {
		p.ids[i] = p.ids[len(p.ids)-1]
		p.ids = p.ids[:len(p.ids)-1]
		p.deleted[id] = true
	}
	return id
}

func (p *pool) wasDeleted(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleted[id]
}

// runMixed runs 64 HTTP clients for a while (quick 5 s, full 30 s) on
// SQLite + local disk, each looping over weighted uploads (multipart 10
// KB), reads (GET content, following the redirect to the signed URL),
// lists (a page of 20) and deletes. A 404 on reading a file another
// client deleted is expected; every other failure counts as an error.
func runMixed(ctx context.Context, b *bench) error {
	e, err := newEnv(ctx, filepath.Join(b.dir, "mixed"), "")
	if err != nil {
		return err
	}
	defer e.Close()
	p := &pool{deleted: map[string]bool{}}
	data := benchkit.PDFBytes(10_000)
	for range 200 {
		f, err := e.svc.Put(ctx, scope, attach.PutRequest{FileName: "seed.pdf", MIMEType: "application/pdf", Size: int64(len(data))}, bytes.NewReader(data))
		if err != nil {
			return err
		}
		p.add(f.ID)
	}
	const clients = 64
	d := time.Duration(b.profile(5, 30)) * time.Second
	body, ctype := multipartBody("file", data)
	var (
		mu                 sync.Mutex
		lat                []time.Duration
		perOp              = map[string][]time.Duration{}
		expected, failures int
		firstErr           error
		wg                 sync.WaitGroup
	)
	total := 0
	for _, o := range mixedOps {
		total += o.weight
	}
	t0 := time.Now()
	deadline := t0.Add(d)
	for c := range clients {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(c), 8))
			var mine []time.Duration
			mineOp := map[string][]time.Duration{}
			exp, fail := 0, 0
			var ferr error
			for time.Now().Before(deadline) {
				n, op := rnd.IntN(total), ""
				for _, o := range mixedOps {
					if n < o.weight {
						op = o.name
						break
					}
					n -= o.weight
				}
				s := time.Now()
				var err error
				var id string
				switch op {
				case "upload":
					var f attach.File
					err = e.call(http.MethodPost, "/files", ctype, bytes.NewReader(body), http.StatusCreated, &f)
					if err == nil {
						p.add(f.ID)
					}
				case "read":
					if id = p.pick(rnd, false); id != "" {
						err = e.call(http.MethodGet, "/files/"+id+"/content", "", nil, http.StatusOK, nil)
					}
				case "list":
					err = e.call(http.MethodGet, "/files?limit=20", "", nil, http.StatusOK, nil)
				case "delete":
					if id = p.pick(rnd, true); id != "" {
						err = e.call(http.MethodDelete, "/files/"+id, "", nil, http.StatusNoContent, nil)
					}
				}
				el := time.Since(s)
				switch {
				case err == nil:
				case op == "read" && isStatus(err, http.StatusNotFound) && p.wasDeleted(id):
					exp++
				default:
					fail++
					if ferr == nil {
						ferr = fmt.Errorf("%s: %w", op, err)
					}
				}
				mine = append(mine, el)
				mineOp[op] = append(mineOp[op], el)
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, mine...)
			for k, v := range mineOp {
				perOp[k] = append(perOp[k], v...)
			}
			expected, failures = expected+exp, failures+fail
			if firstErr == nil {
				firstErr = ferr
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	label := fmt.Sprintf("mixed %d clients %v", clients, d)
	b.add(&Result{Scenario: label + " throughput", Unit: "ops/s", Attachkit: float64(len(lat)) / elapsed.Seconds(),
		Note: fmt.Sprintf("%d operations; weights upload 30, read 40, list 20, delete 10", len(lat))})
	b.add(&Result{Scenario: label + " p50", Unit: "ms", Attachkit: ms(percentile(lat, 50))})
	b.add(&Result{Scenario: label + " p99", Unit: "ms", Attachkit: ms(percentile(lat, 99))})
	for _, o := range mixedOps {
		fmt.Fprintf(b.out, "    %-7s %6d ops, p50 %7.2f ms, p99 %7.2f ms\n", o.name, len(perOp[o.name]),
			ms(percentile(perOp[o.name], 50)), ms(percentile(perOp[o.name], 99)))
	}
	note := fmt.Sprintf("%d expected (404 reading a file another client deleted)", expected)
	if firstErr != nil {
		note += "; first unexpected: " + firstErr.Error()
	}
	b.add(&Result{Scenario: label + " unexpected errors", Unit: "errors", Attachkit: float64(failures), Target: "<= 0", Note: note})
	if firstErr != nil {
		fmt.Fprintln(b.out, "    first unexpected error:", firstErr)
	}
	b.curve("throughput", "mixed load (64 clients)", clients, float64(len(lat))/elapsed.Seconds())
	return nil
}
