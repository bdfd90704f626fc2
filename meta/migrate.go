package meta

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema, one numbered script per change.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string // file name, for logs and errors
	script  string
}

// loadMigrations reads the *.sql files of dir in fsys. Each is named
// NNNN_description.sql; versions must be positive and unique. The result is
// ordered by version.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := make(map[int]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", name, v, prev)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, script: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`

// migrate applies the migrations the database lacks, in one write
// transaction. The applied versions are read after the dialect's migration
// lock, inside the transaction, so concurrent openers apply each migration
// exactly once.
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.d.BeginWrite(ctx, s.wdb)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.d.LockMigrations(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.d.DDL(createMigrationsTable)); err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	known := make(map[int]bool, len(ms))
	var done []string
	for _, m := range ms {
		known[m.version] = true
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.d.DDL(m.script)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
			m.version, micros(time.Now())); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		done = append(done, m.name)
	}
	for v := range applied {
		if !known[v] {
			s.log.WarnContext(ctx, "meta: database has a schema migration this build does not know; is a newer version running?",
				"dialect", s.d.Name(), "version", v)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, name := range done {
		s.log.InfoContext(ctx, "meta: applied schema migration", "dialect", s.d.Name(), "migration", name)
	}
	return nil
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// SchemaVersion returns the highest schema migration applied to the
// database, for diagnostics.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, s.fail(ctx, "schema version", err)
	}
	return int(v.Int64), nil
}
