package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Options configure Open. The zero value (or nil) is valid.
type Options struct {
	// WriteDB, when set, runs every write transaction, while the db passed
	// to Open serves reads. SQLite sets it to a pool of one connection.
	// Default nil: db serves reads and writes.
	WriteDB *sql.DB

	// CloseDB makes Store.Close close db and WriteDB. Default false: the
	// caller owns the pools and closes them after the Store.
	CloseDB bool

	// Logger receives migration notices. Default nil: discard.
	Logger *slog.Logger
}

// Store is a driver.MetaStore on database/sql. It is safe for concurrent
// use.
type Store struct {
	rdb     *sql.DB
	wdb     *sql.DB
	d       Dialect
	r       rebinder
	log     *slog.Logger
	closeDB bool
}

var _ driver.MetaStore = (*Store)(nil)

// Open returns a Store reading from db and writing through opts.WriteDB
// (or db), after applying the schema migrations the database lacks.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if db == nil || d == nil {
		return nil, fmt.Errorf("meta: open: nil db or dialect: %w", driver.ErrInvalidArgument)
	}
	if o.WriteDB == nil {
		o.WriteDB = db
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Store{rdb: db, wdb: o.WriteDB, d: d, r: newRebinder(d), log: o.Logger, closeDB: o.CloseDB}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("meta: open: %w", err)
	}
	if err := s.migrate(ctx, ms); err != nil {
		return nil, s.fail(ctx, "migrate", err)
	}
	if err := s.backfillDocuments(ctx); err != nil {
		return nil, s.fail(ctx, "migrate", err)
	}
	return s, nil
}

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.PingContext(ctx); err != nil {
		return s.fail(ctx, "ping", err)
	}
	if s.wdb != s.rdb {
		if err := s.wdb.PingContext(ctx); err != nil {
			return s.fail(ctx, "ping", err)
		}
	}
	return nil
}

// Close closes the pools when Options.CloseDB was set, and does nothing
// otherwise.
func (s *Store) Close() error {
	if !s.closeDB {
		return nil
	}
	err := s.rdb.Close()
	if s.wdb != s.rdb {
		err = errors.Join(err, s.wdb.Close())
	}
	return err
}

// q rewrites a portable query for the dialect.
func (s *Store) q(query string) string { return s.r.bind(query) }

// fail is the one place errors are classified and wrapped. Context errors
// are returned as they are, also when the driver reports an interruption
// in its own words.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err() // drivers wrap it (pgconn: "timeout: context deadline exceeded")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, driver.ErrNotFound), errors.Is(err, driver.ErrExists),
		errors.Is(err, driver.ErrPrecondition), errors.Is(err, driver.ErrInvalidArgument):
		return fmt.Errorf("meta: %s: %w", op, err)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("meta: %s: %w", op, driver.ErrNotFound)
	case s.d.IsUniqueViolation(err):
		return fmt.Errorf("meta: %s: %w (%w)", op, driver.ErrExists, err)
	}
	return fmt.Errorf("meta: %s: %s: %w", op, s.d.Name(), err)
}

// inWriteTx runs fn in a write transaction, committing when fn returns nil
// and rolling back otherwise.
func (s *Store) inWriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.d.BeginWrite(ctx, s.wdb)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// micros encodes a time as UTC microseconds, the zero time as 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros decodes micros: 0 is the zero time, anything else UTC.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// invalid returns an error matching driver.ErrInvalidArgument.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", driver.ErrInvalidArgument, fmt.Sprintf(format, args...))
}
