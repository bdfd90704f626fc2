// Package sqlite opens Attachkit's metadata store on an SQLite database
// file, the embedded default. It is the only package that links SQLite
// (github.com/mattn/go-sqlite3, which needs cgo).
//
//	store, err := sqlite.Open(ctx, "/var/lib/app/attach.db", nil)
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
// # Connections
//
// Open uses two connection pools on the same file: a writer pool of exactly
// one connection, through which every write transaction of the process
// runs (BEGIN IMMEDIATE), and a reader pool of query-only connections.
// Writers of one process therefore queue in Go instead of failing with
// "database is locked", and readers run in parallel thanks to WAL.
// Processes sharing the file wait for each other up to
// Options.BusyTimeout.
//
// A file path is required: an in-memory database (":memory:") would give
// each pool its own empty database. Tests use a file under t.TempDir().
//
// # Durability
//
// The journal is WAL, with synchronous=FULL by default: a confirm that
// returned survives a power loss. SynchronousNormal trades that last
// transaction's durability for fewer fsyncs (the database stays
// consistent either way).
//
// # Dialect
//
// Dialect is the meta.Dialect for SQLite, for applications that open their
// own *sql.DB with the "sqlite3" driver and call meta.Open themselves.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

// Synchronous is SQLite's synchronous setting for the writer.
type Synchronous string

// Synchronous settings.
const (
	// SynchronousFull syncs the WAL on every commit: a committed
	// transaction survives power loss.
	SynchronousFull Synchronous = "FULL"
	// SynchronousNormal syncs at checkpoints only: the last transactions
	// may be lost on power loss, but the database stays consistent.
	SynchronousNormal Synchronous = "NORMAL"
)

// Options configure Open. The zero value (or nil) is valid.
type Options struct {
	// BusyTimeout is how long a connection waits for another process's
	// lock before failing. Default 10s.
	BusyTimeout time.Duration

	// Synchronous is the writer's durability setting. Default
	// SynchronousFull.
	Synchronous Synchronous

	// MaxReadConns caps the reader pool. Default 4.
	MaxReadConns int

	// Logger receives migration notices. Default nil: discard.
	Logger *slog.Logger
}

// Open opens (creating it if needed) the SQLite database at path, applies
// the schema migrations it lacks and returns the store. The store's Close
// closes both connection pools.
func Open(ctx context.Context, path string, opts *Options) (*meta.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Synchronous == "" {
		o.Synchronous = SynchronousFull
	}
	if o.MaxReadConns <= 0 {
		o.MaxReadConns = 4
	}
	switch o.Synchronous {
	case SynchronousFull, SynchronousNormal:
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q is not FULL or NORMAL: %w", o.Synchronous, driver.ErrInvalidArgument)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q: a database file path is required: %w", path, driver.ErrInvalidArgument)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	// The writer opens first: its first connection switches the file to
	// WAL, which readers then find persisted.
	w, err := sql.Open("sqlite3", dsn(abs, o, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, wrapOpen(err)
	}
	r, err := sql.Open("sqlite3", dsn(abs, o, false))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(o.MaxReadConns)
	r.SetMaxIdleConns(o.MaxReadConns)
	s, err := meta.Open(ctx, r, Dialect{}, &meta.Options{WriteDB: w, CloseDB: true, Logger: o.Logger})
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, wrapOpen(err)
	}
	return s, nil
}

// wrapOpen names the package in an open error, leaving context errors as
// they are.
func wrapOpen(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("sqlite: open: %w", err)
}

// dsn returns the go-sqlite3 data source name for path: a file: URI with
// the path escaped, so that no character of it is read as a parameter.
func dsn(path string, o Options, writer bool) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x -> /C:/x
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "1")
	if writer {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", string(o.Synchronous))
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return (&url.URL{Scheme: "file", Path: p}).String() + "?" + q.Encode()
}

// Dialect is the meta.Dialect for SQLite through
// github.com/mattn/go-sqlite3. BeginWrite relies on the database's DSN
// setting _txlock=immediate, as Open's writer pool does; a *sql.DB opened
// without it may fail write transactions with SQLITE_BUSY under
// concurrency.
type Dialect struct{}

var _ meta.Dialect = Dialect{}

// Name returns "sqlite".
func (Dialect) Name() string { return "sqlite" }

// Placeholder returns "?" for every parameter.
func (Dialect) Placeholder(int) string { return "?" }

// IsUniqueViolation reports whether err is an SQLite UNIQUE or PRIMARY KEY
// constraint failure.
func (Dialect) IsUniqueViolation(err error) bool {
	var e sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
}

// BeginWrite begins a transaction on db; with _txlock=immediate it takes
// the write lock at once.
func (Dialect) BeginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, nil)
}

// LockMigrations returns nil: the immediate write transaction already
// excludes other writers, other processes included.
func (Dialect) LockMigrations(context.Context, *sql.Tx) error { return nil }

// DDL returns script unchanged: migrations are written for SQLite and
// PostgreSQL alike.
func (Dialect) DDL(script string) string { return script }
