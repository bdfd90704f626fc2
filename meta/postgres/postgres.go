// Package postgres opens Attachkit's metadata store on a PostgreSQL
// database, for deployments that run the library in several app replicas.
// It is the only package that links a PostgreSQL client
// (github.com/jackc/pgx/v5, through its database/sql driver).
//
//	store, err := postgres.Open(ctx, "postgres://app@db.internal/app", nil)
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
// The schema, the SQL and the guarantees are package meta's, shared with
// SQLite: the same numbered migrations run on both, and both pass the same
// conformance suite (driver/drivertest).
//
// # Connections
//
// Open uses one pool of at most Options.MaxConns connections for reads and
// writes. The DSN is anything pgx accepts: a URL
// ("postgres://user:pass@host:5432/db?sslmode=verify-full") or key=value
// pairs ("host=db user=app dbname=app"). Parameters pgx does not know are
// sent to the server as run-time settings, so "?search_path=attach" keeps
// the tables in their own schema. Behind a transaction-mode connection
// pooler (PgBouncer) add "default_query_exec_mode=simple_protocol".
//
// # Transactions
//
// Every write runs in a READ COMMITTED transaction, whatever the server's
// default_transaction_isolation says. Store's state changes are
// conditional updates (UPDATE uploads ... WHERE status = 'pending'): under
// READ COMMITTED a second updater of the same row waits for the first to
// commit and then re-evaluates its WHERE clause against the committed row,
// so it changes nothing and the store reports driver.ErrPrecondition. Of
// any number of concurrent confirms exactly one wins, and nothing is lost.
// SERIALIZABLE or REPEATABLE READ would fail the losers with
// serialization errors instead, which are not classified.
//
// A connection that breaks in the middle of a transaction (a server
// restart, a failover, pg_terminate_backend) rolls the whole transaction
// back: the call returns an error, nothing of it is stored, and the pool
// replaces the connection for the next call.
//
// # Migrations
//
// Open applies the migrations the database lacks inside a transaction that
// first takes pg_advisory_xact_lock on a key derived from the current
// schema, so any number of replicas may start at once against an empty
// database: one migrates, the others wait and then find nothing to do.
//
// # URLs
//
// Importing the package registers the "postgres" and "postgresql" schemes
// with driver.OpenMetaStore (and so attach.Open); the whole URL is the DSN.
//
// # Dialect
//
// Dialect is the meta.Dialect for PostgreSQL, for applications that open
// their own *sql.DB (with the "pgx" driver or stdlib.OpenDB) and call
// meta.Open themselves.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

// Options configure Open. The zero value (or nil) is valid.
type Options struct {
	// MaxConns caps the connections the pool opens to the server.
	// Default 10.
	MaxConns int

	// MaxIdleConns caps the connections kept open while idle. Default
	// MaxConns.
	MaxIdleConns int

	// ConnMaxLifetime is how long a connection is reused before it is
	// replaced, so that a pool follows failovers and DNS changes.
	// Default 30 minutes.
	ConnMaxLifetime time.Duration

	// Logger receives migration notices. Default nil: discard.
	Logger *slog.Logger
}

// Open connects to the PostgreSQL database dsn names, applies the schema
// migrations it lacks and returns the store. A DSN pgx cannot parse returns
// an error matching driver.ErrInvalidArgument. The store's Close closes the
// pool.
func Open(ctx context.Context, dsn string, opts *Options) (*meta.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	if o.MaxIdleConns <= 0 || o.MaxIdleConns > o.MaxConns {
		o.MaxIdleConns = o.MaxConns
	}
	if o.ConnMaxLifetime <= 0 {
		o.ConnMaxLifetime = 30 * time.Minute
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message redacts passwords; it never quotes the DSN whole.
		return nil, fmt.Errorf("postgres: %w: %v", driver.ErrInvalidArgument, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxIdleConns)
	db.SetConnMaxLifetime(o.ConnMaxLifetime)
	s, err := meta.Open(ctx, db, Dialect{}, &meta.Options{CloseDB: true, Logger: o.Logger})
	if err != nil {
		_ = db.Close()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return s, nil
}

// Dialect is the meta.Dialect for PostgreSQL through pgx's database/sql
// driver.
type Dialect struct{}

var _ meta.Dialect = Dialect{}

// SQLSTATE codes the dialect recognises.
const uniqueViolation = "23505"

// migrationLockClass is the first key of the migration advisory lock
// ("ATCH"); the second is a hash of the current schema, so stores in
// different schemas of one database migrate independently.
const migrationLockClass = 0x41544348

// Name returns "postgres".
func (Dialect) Name() string { return "postgres" }

// Placeholder returns "$n".
func (Dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// IsUniqueViolation reports whether err is a PostgreSQL unique_violation
// (SQLSTATE 23505), which primary keys raise too.
func (Dialect) IsUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}

// BeginWrite begins a READ COMMITTED transaction on db. PostgreSQL takes
// row locks as statements run, so there is no lock to take up front: a
// conditional UPDATE of a row another transaction is changing waits for
// that transaction, then re-checks its WHERE clause on the committed row
// (one winner, the others change nothing). The level is explicit for two
// reasons: a server default of SERIALIZABLE or REPEATABLE READ would turn
// lost races into serialization failures (SQLSTATE 40001) instead of
// driver.ErrPrecondition; and each statement must see what committed
// before it ran, so that a migrator that waited for the migration lock
// then sees the migrations its predecessor applied.
func (Dialect) BeginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
}

// LockMigrations takes a transaction-scoped advisory lock for the current
// schema, waiting while another process migrates it. The lock is released
// when the migration transaction ends.
func (Dialect) LockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
		migrationLockClass)
	return err
}

// DDL returns script unchanged: the migrations use only types and
// statements both databases understand (TEXT, BIGINT, INTEGER, partial
// indexes).
func (Dialect) DDL(script string) string { return script }
