package attach_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/internal/pgtest"
	"github.com/attachkit/attachkit/meta/postgres"
)

// TestWorkersInReplicas: workers of three Services (replicas) on one
// PostgreSQL database share the jobs: every version is processed exactly
// once, and every file ends ready.
func TestWorkersInReplicas(t *testing.T) {
	dsn := pgtest.FreshURL(t)
	ctx := context.Background()
	st, err := blob.OpenDir(filepath.Join(t.TempDir(), "files"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var (
		mu   sync.Mutex
		runs = map[string]int{}
	)
	count := attach.Processor{Name: "count", Run: func(_ context.Context, _ *attach.Service, in *attach.ProcessInput) error {
		mu.Lock()
		defer mu.Unlock()
		runs[in.File.ID]++
		return nil
	}}
	clk := &clock{t: time.Now().UTC()}
	var envs []*env
	for range 3 {
		store, err := postgres.Open(ctx, dsn, nil)
		require.NoError(t, err)
		t.Cleanup(func() { store.Close() })
		svc, err := attach.New(st, store, &attach.Options{
			SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
			BaseURL:     baseURL, Now: clk.Now, Processors: []attach.Processor{count},
		})
		require.NoError(t, err)
		envs = append(envs, &env{svc: svc, storage: &countingStorage{Storage: st}, store: store, clock: clk})
	}
	const n = 24
	ids := make([]string, n)
	for i := range ids {
		ids[i] = envs[i%3].upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(1000+i)).ID
	}
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := attach.NewWorker(e.svc, &attach.WorkerOptions{Concurrency: 2}).RunDue(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, 1, runs[id], "file %s processed once", id)
		assert.Equal(t, attach.StatusReady, status(t, envs[0], id).Status)
	}
}
