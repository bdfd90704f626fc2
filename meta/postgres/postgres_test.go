package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/driver/drivertest"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/postgres"
)

func TestConformance(t *testing.T) {
	serverURL(t)
	drivertest.RunMetaTests(t, func(t *testing.T) driver.MetaStore {
		s, err := postgres.Open(context.Background(), freshDSN(t), nil)
		require.NoError(t, err)
		return s
	})
}

// TestConformanceSerializableDefault runs the suite on a server whose
// default isolation is SERIALIZABLE: the store's explicit READ COMMITTED
// keeps lost races classified as ErrPrecondition.
func TestConformanceSerializableDefault(t *testing.T) {
	serverURL(t)
	drivertest.RunMetaTests(t, func(t *testing.T) driver.MetaStore {
		s, err := postgres.Open(context.Background(), freshDSN(t)+"&default_transaction_isolation=serializable", nil)
		require.NoError(t, err)
		return s
	})
}

// migrations returns the rows of schema_migrations, read without the
// store.
func migrations(t *testing.T, dsn string) map[int]int64 {
	t.Helper()
	rows, err := sqlDB(t, dsn).Query(`SELECT version, applied_at FROM schema_migrations`)
	require.NoError(t, err)
	defer rows.Close()
	got := make(map[int]int64)
	for rows.Next() {
		var v int
		var at int64
		require.NoError(t, rows.Scan(&v, &at))
		got[v] = at
	}
	require.NoError(t, rows.Err())
	return got
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t)
	s, err := postgres.Open(ctx, dsn, nil)
	require.NoError(t, err)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Positive(t, v)
	require.NoError(t, s.Close())
	first := migrations(t, dsn)
	require.Len(t, first, v, "one row per migration")

	for range 3 {
		s := open(t, dsn, nil)
		again, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		assert.Equal(t, v, again)
	}
	assert.Equal(t, first, migrations(t, dsn), "reopening applied migrations again")
}

// TestConcurrentOpen opens stores on one empty schema at once, as app
// replicas starting together would: all succeed, each migration is applied
// once, and every store sees every other's writes.
func TestConcurrentOpen(t *testing.T) {
	const n = 6
	ctx := context.Background()
	dsn := freshDSN(t)
	stores := make([]*meta.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(ctx, dsn, &postgres.Options{MaxConns: 2})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "open %d", i)
		t.Cleanup(func() { _ = stores[i].Close() })
	}

	var failed atomic.Int32
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				if err := createAndCommit(ctx, s, fmt.Sprintf("s%d-f%d", i, j)); err != nil {
					failed.Add(1)
					t.Errorf("store %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	for _, s := range stores {
		for i := range n {
			f, err := s.File(ctx, "ws", fmt.Sprintf("s%d-f4", i))
			require.NoError(t, err)
			assert.Equal(t, 1, f.Version)
		}
	}
	v, err := stores[0].SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Len(t, migrations(t, dsn), v, "a migration applied twice")
}

// TestDroppedConnectionLosesNothing kills the server process of a commit
// that has already changed the ticket and waits on the file row: the
// commit fails, none of it is stored, and a retry on the same one-connection
// pool succeeds.
func TestDroppedConnectionLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := freshDSN(t)
	s := open(t, dsn, &postgres.Options{MaxConns: 1})
	up, err := pendingFile(ctx, s, "f1")
	require.NoError(t, err)

	// A second session holds the file row, so the commit stops right after
	// its UPDATE of the ticket, inside its transaction.
	db := sqlDB(t, dsn)
	blocker, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer blocker.Rollback() //nolint:errcheck // rolled back below
	var blockerPID int
	require.NoError(t, blocker.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&blockerPID))
	_, err = blocker.ExecContext(ctx, `SELECT 1 FROM files WHERE id = $1 FOR UPDATE`, "f1")
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := s.CommitUpload(ctx, commitOf(up))
		done <- err
	}()
	var victim int
	for victim == 0 {
		err := db.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE 'UPDATE files%'`, blockerPID).Scan(&victim)
		if errors.Is(err, sql.ErrNoRows) {
			select {
			case err := <-done:
				require.FailNow(t, "the commit returned before it blocked", "%v", err)
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		require.NoError(t, err)
	}
	var ticket string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT status FROM uploads WHERE id = $1`, up.ID).Scan(&ticket))
	assert.Equal(t, "pending", ticket, "the uncommitted ticket change is invisible")

	var terminated bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, victim).Scan(&terminated))
	require.True(t, terminated)
	err = <-done
	require.Error(t, err, "a commit whose connection died must fail")
	for _, classified := range []error{driver.ErrPrecondition, driver.ErrNotFound, driver.ErrExists, context.Canceled} {
		assert.NotErrorIs(t, err, classified)
	}
	require.NoError(t, blocker.Rollback())

	// Nothing of the failed commit is stored.
	got, err := s.Upload(ctx, "ws", up.ID)
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, got.Status)
	f, err := s.File(ctx, "ws", "f1")
	require.NoError(t, err)
	assert.Equal(t, driver.StatusPending, f.Status)
	assert.Zero(t, f.Version)
	vs, err := s.Versions(ctx, "ws", "f1")
	require.NoError(t, err)
	assert.Empty(t, vs)

	// The retry makes the one transition.
	f, err = s.CommitUpload(ctx, commitOf(up))
	require.NoError(t, err)
	assert.Equal(t, 1, f.Version)
	assert.Equal(t, driver.StatusReady, f.Status)
	_, err = s.CommitUpload(ctx, commitOf(up))
	assert.ErrorIs(t, err, driver.ErrPrecondition, "a second retry finds the ticket confirmed")
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		dsn     func(t *testing.T) string
		opts    *postgres.Options
		wantErr error
	}{
		{name: "defaults", dsn: fresh},
		{name: "small pool", dsn: fresh,
			opts: &postgres.Options{MaxConns: 1, MaxIdleConns: 5, ConnMaxLifetime: time.Minute}},
		{name: "key value DSN", dsn: func(t *testing.T) string {
			t.Helper()
			u := parseURL(t, freshDSN(t))
			return fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable search_path=%s",
				u.Hostname(), u.Port(), u.User.Username(), u.Path[1:], u.Query().Get("search_path"))
		}},
		{name: "unparsable port", dsn: func(*testing.T) string { return "postgres://127.0.0.1:port/db" }, wantErr: driver.ErrInvalidArgument},
		{name: "bad sslmode", dsn: func(*testing.T) string { return "postgres://127.0.0.1/db?sslmode=sometimes" }, wantErr: driver.ErrInvalidArgument},
		{name: "unknown server setting", dsn: func(t *testing.T) string { return freshDSN(t) + "&no_such_setting=1" }, wantErr: errAny},
		{name: "nothing listening", dsn: func(*testing.T) string { return "postgres://attach@127.0.0.1:1/db?connect_timeout=5" }, wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := postgres.Open(ctx, tc.dsn(t), tc.opts)
			if tc.wantErr != nil {
				require.Error(t, err)
				if tc.wantErr != errAny {
					assert.ErrorIs(t, err, tc.wantErr)
				}
				return
			}
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.Ping(ctx))
			require.NoError(t, createAndCommit(ctx, s, "f1"))
		})
	}
}

// errAny marks a test case that expects some error.
var errAny = errors.New("any error")

func TestOpenCancelled(t *testing.T) {
	dsn := freshDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := postgres.Open(ctx, dsn, nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestCancelledMidQuery cancels calls while they wait on a row lock: the
// error is the context's, unwrapped, and the store keeps working.
func TestCancelledMidQuery(t *testing.T) {
	ctx := context.Background()
	dsn := freshDSN(t)
	s := open(t, dsn, &postgres.Options{MaxConns: 1})
	up, err := pendingFile(ctx, s, "f1")
	require.NoError(t, err)
	blocker, err := sqlDB(t, dsn).BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = blocker.ExecContext(ctx, `SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE`, up.ID)
	require.NoError(t, err)

	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = s.CommitUpload(cctx, commitOf(up))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, context.DeadlineExceeded, err, "context errors are not wrapped")
	require.NoError(t, blocker.Rollback())

	_, err = s.CommitUpload(ctx, commitOf(up))
	require.NoError(t, err)
}

func TestDialect(t *testing.T) {
	d := postgres.Dialect{}
	assert.Equal(t, "postgres", d.Name())
	assert.Equal(t, "$1", d.Placeholder(1))
	assert.Equal(t, "$12", d.Placeholder(12))
	assert.False(t, d.IsUniqueViolation(errors.New("23505")))
	assert.False(t, d.IsUniqueViolation(nil))
	const script = "CREATE TABLE t (a BIGINT);\nCREATE INDEX t_a ON t (a) WHERE a > 0;"
	assert.Equal(t, script, d.DDL(script))
}

// BenchmarkCommitUpload measures create-and-commit throughput with
// concurrent callers on one store.
func BenchmarkCommitUpload(b *testing.B) {
	ctx := context.Background()
	s := open(b, freshDSN(b), nil)
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := createAndCommit(ctx, s, fmt.Sprintf("f%d", n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkConcurrentCommits measures 50 concurrent confirms of one
// ticket, the race with exactly one winner.
func BenchmarkConcurrentCommits(b *testing.B) {
	const racers = 50
	ctx := context.Background()
	s := open(b, freshDSN(b), &postgres.Options{MaxConns: 20})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		up, err := pendingFile(ctx, s, fmt.Sprintf("f%d", i))
		require.NoError(b, err)
		var won atomic.Int32
		var wg sync.WaitGroup
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.CommitUpload(ctx, commitOf(up)); err == nil {
					won.Add(1)
				} else if !errors.Is(err, driver.ErrPrecondition) {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			b.Fatalf("%d winners", won.Load())
		}
	}
}
