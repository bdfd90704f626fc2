package meta

import (
	"context"
	"database/sql"
	"strings"
)

// Dialect is what differs between the databases Store runs on. It is
// implemented by the leaf packages (meta/sqlite, meta/postgres); its methods
// must be safe for concurrent use.
type Dialect interface {
	// Name returns the database's short lower-case name, such as "sqlite"
	// or "postgres", for logs and error messages.
	Name() string

	// Placeholder returns the marker of the n-th (1-based) bind parameter:
	// "?" for SQLite, "$1", "$2" ... for PostgreSQL. Store rewrites its
	// portable ? queries with it.
	Placeholder(n int) string

	// IsUniqueViolation reports whether err is a unique or primary key
	// constraint violation, which Store reports as driver.ErrExists.
	IsUniqueViolation(err error) bool

	// BeginWrite begins a transaction that will write on db. It must take
	// the database's write lock early enough that the transaction does
	// not fail half way because another writer got there first (SQLite:
	// BEGIN IMMEDIATE, which the sqlite leaf configures with _txlock).
	BeginWrite(ctx context.Context, db *sql.DB) (*sql.Tx, error)

	// LockMigrations is called first inside the migration transaction. It
	// must block until no other process is migrating the same database
	// (PostgreSQL: pg_advisory_xact_lock). Dialects whose BeginWrite
	// already excludes other writers return nil.
	LockMigrations(ctx context.Context, tx *sql.Tx) error

	// DDL adapts a portable migration script to the database before it
	// runs (for example a binary column type); most dialects return it
	// unchanged. The script may hold several statements separated by
	// semicolons and is executed with a single ExecContext call.
	DDL(script string) string
}

// rebinder rewrites portable ? queries for a Dialect.
type rebinder struct {
	d        Dialect
	identity bool
}

func newRebinder(d Dialect) rebinder {
	return rebinder{d: d, identity: d.Placeholder(1) == "?" && d.Placeholder(2) == "?"}
}

// bind returns query with its ? placeholders replaced by the dialect's.
func (r rebinder) bind(query string) string {
	if r.identity {
		return query
	}
	return rebind(query, r.d.Placeholder)
}

// rebind replaces every ? outside single-quoted literals, double-quoted
// identifiers and -- comments with placeholder(n), n counting from 1.
func rebind(query string, placeholder func(n int) string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // ' or " while inside a literal or identifier
	comment := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote reopens on the next byte
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			comment = true
		case c == '?':
			n++
			b.WriteString(placeholder(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
