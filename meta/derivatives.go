package meta

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/attachkit/attachkit/driver"
)

const derivativeColumns = "workspace, file_id, version, spec, storage_key, mime_type, size, digest, " +
	"width, height, source, created_at"

// maxSpecLen bounds a derivative's spec name.
const maxSpecLen = 128

// CreateDerivative records a derivative of an existing version of an
// undeleted file. The file's row is locked first (the same way
// MarkDeleted and PurgeFile change it), so no derivative is recorded after
// the file is marked deleted. A duplicate (file, version, spec) returns an
// error matching driver.ErrExists; an unknown or deleted file or version
// driver.ErrNotFound.
func (s *Store) CreateDerivative(ctx context.Context, d *driver.DerivativeRecord) error {
	if d == nil {
		return s.fail(ctx, "create derivative", invalid("nil derivative"))
	}
	op := fmt.Sprintf("create derivative %q of %s v%d", d.Spec, d.FileID, d.Version)
	switch {
	case d.Spec == "" || len(d.Spec) > maxSpecLen:
		return s.fail(ctx, op, invalid("spec must be 1 to %d bytes", maxSpecLen))
	case d.StorageKey == "":
		return s.fail(ctx, op, invalid("no storage key"))
	case d.CreatedAt.IsZero():
		return s.fail(ctx, op, invalid("creation time not set"))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var version int
		err := tx.QueryRowContext(ctx, s.q(`UPDATE files SET updated_at = updated_at
			WHERE id = ? AND workspace = ? AND deleted_at = 0 RETURNING version`), d.FileID, d.Workspace).Scan(&version)
		if err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM versions WHERE file_id = ? AND workspace = ? AND version = ?`),
			d.FileID, d.Workspace, d.Version).Scan(&one); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(insertSQL("derivatives", derivativeColumns)),
			d.Workspace, d.FileID, d.Version, d.Spec, d.StorageKey, d.MIMEType, d.Size, d.Digest,
			d.Width, d.Height, d.Source, micros(d.CreatedAt))
		return err
	})
	return s.fail(ctx, op, err)
}

// Derivative returns one derivative of an undeleted file's version, or an
// error matching driver.ErrNotFound.
func (s *Store) Derivative(ctx context.Context, workspace, fileID string, version int, spec string) (*driver.DerivativeRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+prefixed("d", derivativeColumns)+`
		FROM derivatives d JOIN files f ON f.id = d.file_id
		WHERE d.file_id = ? AND d.workspace = ? AND d.version = ? AND d.spec = ? AND f.workspace = d.workspace AND f.deleted_at = 0`),
		fileID, workspace, version, spec)
	d, err := scanDerivative(row)
	if err != nil {
		return nil, s.fail(ctx, fmt.Sprintf("derivative %q of %s v%d", spec, fileID, version), err)
	}
	return d, nil
}

// Derivatives lists the derivatives of one version of an undeleted file,
// ordered by spec. An unknown or deleted file returns an error matching
// driver.ErrNotFound.
func (s *Store) Derivatives(ctx context.Context, workspace, fileID string, version int) ([]driver.DerivativeRecord, error) {
	op := fmt.Sprintf("derivatives of %s v%d", fileID, version)
	if err := s.exists(ctx, workspace, fileID, true); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+derivativeColumns+` FROM derivatives
		WHERE file_id = ? AND workspace = ? AND version = ? ORDER BY spec`), fileID, workspace, version)
	out, err := scanRows(rows, err, scanDerivative)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

func scanDerivative(sc scanner) (*driver.DerivativeRecord, error) {
	var (
		d       driver.DerivativeRecord
		created int64
	)
	err := sc.Scan(&d.Workspace, &d.FileID, &d.Version, &d.Spec, &d.StorageKey, &d.MIMEType, &d.Size, &d.Digest,
		&d.Width, &d.Height, &d.Source, &created)
	if err != nil {
		return nil, err
	}
	d.CreatedAt = fromMicros(created)
	return &d, nil
}
