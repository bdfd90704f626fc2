package benchkit

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the baseline's database
)

// Baseline does, without the library, what one lifecycle on SQLite + local
// disk does: the same three write transactions (pending file and ticket;
// written digest; confirm), the same synced file write, one read. Its
// methods are safe for concurrent use.
type Baseline struct {
	db  *sql.DB
	dir string
	seq atomic.Int64
}

// NewBaseline creates the baseline's database (WAL, synchronous FULL, as
// the store's default) and file directory under dir.
func NewBaseline(dir string) (*Baseline, error) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "base.db")+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`CREATE TABLE files (id TEXT PRIMARY KEY, workspace TEXT, file_name TEXT, mime_type TEXT, size BIGINT, digest TEXT, status TEXT, version BIGINT, storage_key TEXT, created_at BIGINT, updated_at BIGINT)`,
		`CREATE TABLE uploads (id TEXT PRIMARY KEY, workspace TEXT, file_id TEXT, storage_key TEXT, size BIGINT, status TEXT, written_digest TEXT, expires_at BIGINT)`,
		`CREATE TABLE versions (file_id TEXT, version BIGINT, size BIGINT, digest TEXT, storage_key TEXT, created_at BIGINT, PRIMARY KEY (file_id, version))`,
	} {
		if _, err := db.Exec(s); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &Baseline{db: db, dir: filepath.Join(dir, "files")}, nil
}

// Close closes the database.
func (s *Baseline) Close() error { return s.db.Close() }

func (s *Baseline) tx(stmts ...string) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := tx.Exec(st); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// Lifecycle records, writes, confirms and reads one file of body.
func (s *Baseline) Lifecycle(body []byte) error {
	id, now := fmt.Sprintf("f%d", s.seq.Add(1)), time.Now().UnixMicro()
	key := filepath.Join("ws", id, "v1", "obj")
	if err := s.tx(fmt.Sprintf(`INSERT INTO files VALUES ('%s','ws','a.pdf','',0,'','pending',0,'',%d,%d)`, id, now, now),
		fmt.Sprintf(`INSERT INTO uploads VALUES ('u%s','ws','%s','%s',%d,'pending','',%d)`, id, id, key, len(body), now)); err != nil {
		return err
	}
	path := filepath.Join(s.dir, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := SyncedCopy(path, bytes.NewReader(body)); err != nil {
		return err
	}
	if err := s.tx(fmt.Sprintf(`UPDATE uploads SET written_digest='x' WHERE id='u%s' AND status='pending'`, id)); err != nil {
		return err
	}
	if err := s.tx(fmt.Sprintf(`UPDATE uploads SET status='confirmed' WHERE id='u%s' AND status='pending'`, id),
		fmt.Sprintf(`UPDATE files SET status='ready', version=1, size=%d WHERE id='%s' AND version=0`, len(body), id),
		fmt.Sprintf(`INSERT INTO versions VALUES ('%s',1,%d,'x','%s',%d)`, id, len(body), key, now)); err != nil {
		return err
	}
	var name string
	return s.db.QueryRow(`SELECT file_name FROM files WHERE id=? AND workspace='ws'`, id).Scan(&name)
}
