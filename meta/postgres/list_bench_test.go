package postgres_test

import (
	"database/sql"
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/benchkit"
	"github.com/attachkit/attachkit/meta"
)

var listSizes = flag.String("list-sizes", "10000,100000,1000000", "workspace sizes BenchmarkListPage grows through")

// BenchmarkListPage is meta/sqlite's BenchmarkListPage on PostgreSQL: it
// measures ListFiles (a page of 20 plus the total) in one workspace of each
// of -list-sizes files (default 10k, 100k and 1M, one fresh schema each),
// for the first page and for a deep page (a cursor after 90% of the rows),
// newest first and by name, for an administrator and for a user who sees
// 11% of the files. Each round times 10 pages per size, the sizes
// interleaved so that a noisy neighbour hits them alike; the best round per
// size is reported as µs-<size>, and ratio is the largest size's over the
// smallest's (target <= 1.5: flat).
//
// Rows are generated server-side (INSERT ... SELECT FROM generate_series)
// in the layout the store writes (files, file_tags, file_viewers,
// file_counts), then vacuumed and analyzed; the benchmark checks the
// store's total against the row count before measuring. It needs
// ATTACH_POSTGRES_URL (see internal/pgtest) and is skipped without it.
//
//	go test -run '^$' -bench ListPage -benchtime 100x ./meta/postgres/
//	go test -run '^$' -bench ListPage -benchtime 5x ./meta/postgres/ -list-sizes 1000,10000
func BenchmarkListPage(b *testing.B) {
	sizes, err := benchkit.ParseSizes(*listSizes)
	if err != nil {
		b.Fatal(err)
	}
	serverURL(b)
	stores := make([]*meta.Store, len(sizes))
	writers := make([]*sql.DB, len(sizes))
	for i, size := range sizes {
		dsn := freshDSN(b)
		s := open(b, dsn, nil) // creates the tables
		w := sqlDB(b, dsn)
		t0 := time.Now()
		insertListed(b, w, 0, size)
		b.Logf("%s files loaded and analyzed in %v", benchkit.SizeLabel(size), time.Since(t0).Round(time.Millisecond))
		benchkit.CheckListed(b, s, size)
		stores[i], writers[i] = s, w
	}
	benchkit.BenchListPages(b, stores, sizes, func(i int, viewer string, sort driver.ListSort) *driver.ListKey {
		return positionAt(b, writers[i], viewer, sort, 0.9)
	})
}

// listedRows generates files $1..$2 of workspace "big" ($3 is the base
// creation time in µs): the same rows as meta/sqlite's benchmark (3 tags
// each, owned by one of 100 users, 10% public-read with canonical viewer
// "workspace"). The counter slot is i % 16 rather than the store's FNV
// slot: any slot would do, the totals are sums.
const listedRows = `WITH r AS (
	SELECT i, id, name, lower(name) AS name_key, 'user-' || (i % 100) AS owner,
		CASE WHEN i % 10 = 3 THEN 'public-read' ELSE 'private' END AS access,
		CASE WHEN i % 10 = 3 THEN 'workspace' ELSE 'user:user-' || (i % 100) END AS principal,
		$3::bigint + i * 1000 AS at, (i % 16)::integer AS slot
	FROM generate_series($1::bigint, $2::bigint) AS i,
		LATERAL (SELECT 'file_' || lpad(i::text, 36, '0') AS id,
			(ARRAY['Report', 'invoice', 'Photo', 'contract', 'Plan', 'scan', 'Budget', 'notes', 'Draft', 'summary'])[i * 7 % 10 + 1]
			|| ' ' ||
			(ARRAY['Report', 'invoice', 'Photo', 'contract', 'Plan', 'scan', 'Budget', 'notes', 'Draft', 'summary'])[i * 3 % 10 + 1]
			|| ' ' || (i * 7919 % 1000003) || '.pdf' AS name) AS g
) `

// insertListed adds files from..to-1 to workspace "big", ready and
// listed, in the layout the store writes (see listedRows), with the
// counters of file_counts, in transactions of 100k files; then it vacuums
// and analyzes the tables, as autovacuum would in a steady state (and so
// that it does not start in the middle of the measurements).
func insertListed(b *testing.B, db *sql.DB, from, to int) {
	b.Helper()
	const batch = 100_000
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	stmts := []string{
		listedRows + `INSERT INTO files (workspace, id, file_name, name_key, title, mime_type, kind, size, digest,
			status, source, version, storage_key, owner, collection_id, tags, metadata, access_control, acl, persist,
			created_at, updated_at)
		SELECT 'big', id, name, name_key, name, 'application/pdf', 'document', 1000 + i, 'sha256:00',
			'ready', 'upload', 1, 'big/' || id || '/v1/x', owner, 'col-' || (i % 1000),
			'["t' || (i % 50) || '","t' || ((i / 50) % 50 + 50) || '","all"]', '{}', access,
			'{"view":[],"edit":[],"delete":[]}', 1, at, at
		FROM r`,
		listedRows + `INSERT INTO file_tags (workspace, file_id, tag)
		SELECT 'big', id, t FROM r, LATERAL (VALUES ('t' || (i % 50)), ('t' || ((i / 50) % 50 + 50)), ('all')) AS x (t)`,
		listedRows + `INSERT INTO file_viewers (workspace, file_id, principal, created_at, name_key, listed)
		SELECT 'big', id, principal, at, name_key, 1 FROM r`,
		listedRows + `INSERT INTO file_counts (workspace, principal, slot, n)
		SELECT 'big', p, slot, count(*) FROM r, LATERAL (VALUES (''), (principal)) AS x (p) GROUP BY p, slot
		ON CONFLICT (workspace, principal, slot) DO UPDATE SET n = file_counts.n + excluded.n`,
	}
	for start := from; start < to; start += batch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range stmts {
			if _, err := tx.Exec(q, start, min(start+batch, to)-1, base); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(`VACUUM (ANALYZE) files, file_tags, file_viewers, file_counts`); err != nil {
		b.Fatal(err)
	}
}

// positionAt returns the keyset position of the row at fraction f of the
// listing (for the viewer, of the files the viewer sees), leaving at least
// a full page after it.
func positionAt(b *testing.B, db *sql.DB, viewer string, sort driver.ListSort, f float64) *driver.ListKey {
	b.Helper()
	where := `workspace = 'big' AND deleted_at = 0 AND version > 0`
	args := []any{}
	if viewer != "" {
		where += ` AND EXISTS (SELECT 1 FROM file_viewers v WHERE v.file_id = files.id AND v.principal IN ('workspace', $1))`
		args = append(args, "user:"+viewer)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM files WHERE `+where, args...).Scan(&n); err != nil {
		b.Fatal(err)
	}
	order := `created_at DESC, id DESC`
	if sort == driver.ListByName {
		order = `name_key, id`
	}
	var (
		k  driver.ListKey
		us int64
	)
	err := db.QueryRow(`SELECT created_at, file_name, id FROM files WHERE `+where+` ORDER BY `+order+
		` LIMIT 1 OFFSET $`+strconv.Itoa(len(args)+1),
		append(args, min(int(float64(n)*f), n-22))...).Scan(&us, &k.FileName, &k.ID)
	if err != nil {
		b.Fatal(err)
	}
	k.CreatedAt = time.UnixMicro(us).UTC()
	return &k
}
