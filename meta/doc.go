// Package meta implements driver.MetaStore on database/sql.
//
// The SQL is written once, portably, with ? placeholders; a small Dialect
// supplies what differs between databases. Application code does not use
// this package directly: it opens a leaf, which brings the SQL driver and
// its Dialect:
//
//	store, err := sqlite.Open(ctx, "/var/lib/app/attach.db", nil)
//
// A leaf (or an application holding its own *sql.DB) calls Open with a
// Dialect:
//
//	store, err := meta.Open(ctx, db, dialect, &meta.Options{WriteDB: writer})
//
// # Dialects
//
// A Dialect names the database, rewrites placeholders ($1, $2 ... for
// PostgreSQL), recognises unique-constraint violations, begins write
// transactions, serialises concurrent migrators and adapts migration DDL.
// Everything else is shared. meta never imports a SQL driver; cgo and
// network clients stay in the leaves.
//
// # Pools
//
// Reads use the *sql.DB passed to Open. Writes (every transaction) use
// Options.WriteDB when set, else the same pool. SQLite sets WriteDB to a
// pool of one connection, which serialises the writers of one process
// without "database is locked" errors while readers keep running in
// parallel under WAL; PostgreSQL uses one pool for both.
//
// # Schema and migrations
//
// The schema is a sequence of embedded, numbered migrations
// (migrations/0001_init.sql, ...). Open applies the missing ones in one
// write transaction, after the Dialect's migration lock, and records each in
// schema_migrations(version, applied_at). The applied versions are read
// inside that transaction, so reopening is a no-op and two processes opening
// one database at once apply each migration exactly once.
//
// Columns are portable: TEXT, BIGINT and INTEGER only. Times are BIGINT
// microseconds since the Unix epoch in UTC, with 0 for the zero time.Time;
// they are returned in UTC, truncated to microseconds. Booleans are INTEGER
// 0 or 1, tags, metadata and access lists JSON text, MD5 digests hex text.
//
// # Listing
//
// Migration 0002 adds what keeps a listing page's cost flat as a workspace
// grows: partial indexes over the listed files (undeleted, with a
// confirmed version) for keyset pages by creation time and by folded name,
// file_tags for tag filters, file_viewers (the canonical principals that
// may view a file, with its sort keys) for a user's listing, and
// file_counts, the listed files per workspace and principal spread over 16
// slots, for totals without counting. Every write that changes a file's
// tags, access, name or listed state updates them in its own transaction,
// and Open backfills them once for files that predate the migration.
//
// # Collections and attachments
//
// Migration 0003 adds collections (a parent id per row; moves walk the
// parent chain, bounded by driver.MaxCollectionDepth, to refuse cycles),
// attachments (one row per file in a record field, with a dense position)
// and attachment_history (every record a file was ever attached to, for
// purging files only one record used). Writers of a workspace's
// collection tree, and of one record field, first take a
// transaction-scoped advisory lock on PostgreSQL (SQLite serialises its
// writers anyway; the organize_locks table is no longer written); a
// field's writer then locks the rows of the files it attaches, and a file
// deletion takes the locks of the fields holding the file and then the
// file's row before removing its attachments, so no attachment of a
// deleted file is ever written.
//
// # Jobs
//
// Migration 0005 adds jobs (durable background work) and leases (named
// leases for periodic work). A claim is one UPDATE of the due rows picked
// by a subquery that, on PostgreSQL, locks them with FOR UPDATE SKIP
// LOCKED, so concurrent claimers take different jobs without waiting;
// on SQLite the immediate write transaction serialises claimers. Completing
// or retrying a job is conditional on its lease (owner and attempt count),
// so a worker that lost its lease changes nothing, and settling a file is
// conditional on its version and processing status.
//
// # Workspaces
//
// Every statement filters by workspace: another workspace's file, version or
// ticket behaves exactly like an unknown id and returns driver.ErrNotFound.
// File and ticket ids are primary keys on their own, unique across
// workspaces (attach generates them at random), so creating an id that
// another workspace holds returns driver.ErrExists.
//
// # Errors
//
// Errors are classified in one place: sql.ErrNoRows matches
// driver.ErrNotFound, a unique or primary key violation driver.ErrExists, a
// conditional change whose condition no longer holds driver.ErrPrecondition
// and an argument the store refuses driver.ErrInvalidArgument. Context
// errors are returned as they are, so errors.Is(err, context.Canceled)
// holds. Other errors are wrapped with the operation's name.
package meta
