package meta

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// Column lists, in the order the scan and args functions below use.
const (
	fileColumns = "workspace, id, file_name, title, mime_type, kind, size, digest, width, height, " +
		"status, status_code, status_reason, source, version, storage_key, " +
		"owner, collection_id, tags, metadata, access_control, acl, " +
		"persist, expires_at, created_at, updated_at, deleted_at"
	versionColumns = "workspace, file_id, version, file_name, mime_type, kind, size, digest, " +
		"width, height, storage_key, source, status, created_by, created_at"
	uploadColumns = "workspace, id, file_id, version, base_version, storage_key, file_name, mime_type, " +
		"size, max_size, status, error_code, error_reason, " +
		"written_size, written_digest, written_md5, created_by, created_at, expires_at"
)

// prefixed returns columns with each name prefixed by alias and a dot.
func prefixed(alias, columns string) string {
	return alias + "." + strings.ReplaceAll(columns, ", ", ", "+alias+".")
}

// insertSQL returns a portable INSERT of columns into table.
func insertSQL(table, columns string) string {
	n := strings.Count(columns, ",") + 1
	return "INSERT INTO " + table + " (" + columns + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// scanner is *sql.Row or *sql.Rows.
// scanRows reads every row of a query with scan and closes the rows; err
// is the query's own error, passed through. An empty result is an empty,
// non-nil slice.
func scanRows[T any](rows *sql.Rows, err error, scan func(scanner) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

type scanner interface {
	Scan(dest ...any) error
}

func fileArgs(f *driver.FileRecord) ([]any, error) {
	if len(f.Metadata) > 0 && !json.Valid(f.Metadata) {
		return nil, invalid("file %s: metadata is not valid JSON", f.ID)
	}
	tags := f.Tags
	if tags == nil {
		tags = []string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, err
	}
	aclJSON, err := json.Marshal(f.ACL)
	if err != nil {
		return nil, err
	}
	return []any{
		f.Workspace, f.ID, f.FileName, f.Title, f.MIMEType, f.Kind, f.Size, f.Digest, f.Width, f.Height,
		string(f.Status), f.StatusCode, f.StatusReason, f.Source, f.Version, f.StorageKey,
		f.Owner, f.CollectionID, string(tagsJSON), string(f.Metadata), f.AccessControl, string(aclJSON),
		boolInt(f.Persist), micros(f.ExpiresAt), micros(f.CreatedAt), micros(f.UpdatedAt), micros(f.DeletedAt),
	}, nil
}

func scanFile(sc scanner) (*driver.FileRecord, error) {
	var (
		f                              driver.FileRecord
		status, tags, metadata, acl    string
		persist                        int
		expires, created, updated, del int64
	)
	err := sc.Scan(&f.Workspace, &f.ID, &f.FileName, &f.Title, &f.MIMEType, &f.Kind, &f.Size, &f.Digest, &f.Width, &f.Height,
		&status, &f.StatusCode, &f.StatusReason, &f.Source, &f.Version, &f.StorageKey,
		&f.Owner, &f.CollectionID, &tags, &metadata, &f.AccessControl, &acl,
		&persist, &expires, &created, &updated, &del)
	if err != nil {
		return nil, err
	}
	f.Status = driver.FileStatus(status)
	if tags != "" {
		if err := json.Unmarshal([]byte(tags), &f.Tags); err != nil {
			return nil, fmt.Errorf("file %s: tags: %w", f.ID, err)
		}
	}
	if len(f.Tags) == 0 {
		f.Tags = nil
	}
	if metadata != "" {
		f.Metadata = []byte(metadata)
	}
	if acl != "" {
		if err := json.Unmarshal([]byte(acl), &f.ACL); err != nil {
			return nil, fmt.Errorf("file %s: acl: %w", f.ID, err)
		}
	}
	f.Persist = persist != 0
	f.ExpiresAt = fromMicros(expires)
	f.CreatedAt = fromMicros(created)
	f.UpdatedAt = fromMicros(updated)
	f.DeletedAt = fromMicros(del)
	return &f, nil
}

func versionArgs(v *driver.VersionRecord) []any {
	return []any{
		v.Workspace, v.FileID, v.Version, v.FileName, v.MIMEType, v.Kind, v.Size, v.Digest,
		v.Width, v.Height, v.StorageKey, v.Source, string(v.Status), v.CreatedBy, micros(v.CreatedAt),
	}
}

func scanVersion(sc scanner) (*driver.VersionRecord, error) {
	var (
		v       driver.VersionRecord
		status  string
		created int64
	)
	err := sc.Scan(&v.Workspace, &v.FileID, &v.Version, &v.FileName, &v.MIMEType, &v.Kind, &v.Size, &v.Digest,
		&v.Width, &v.Height, &v.StorageKey, &v.Source, &status, &v.CreatedBy, &created)
	if err != nil {
		return nil, err
	}
	v.Status = driver.FileStatus(status)
	v.CreatedAt = fromMicros(created)
	return &v, nil
}

func uploadArgs(u *driver.UploadRecord) []any {
	return []any{
		u.Workspace, u.ID, u.FileID, u.Version, u.BaseVersion, u.StorageKey, u.FileName, u.MIMEType,
		u.Size, u.MaxSize, string(u.Status), u.ErrorCode, u.ErrorReason,
		u.WrittenSize, u.WrittenDigest, hex.EncodeToString(u.WrittenMD5), u.CreatedBy,
		micros(u.CreatedAt), micros(u.ExpiresAt),
	}
}

func scanUpload(sc scanner) (*driver.UploadRecord, error) {
	var (
		u                driver.UploadRecord
		status, md5      string
		created, expires int64
	)
	err := sc.Scan(&u.Workspace, &u.ID, &u.FileID, &u.Version, &u.BaseVersion, &u.StorageKey, &u.FileName, &u.MIMEType,
		&u.Size, &u.MaxSize, &status, &u.ErrorCode, &u.ErrorReason,
		&u.WrittenSize, &u.WrittenDigest, &md5, &u.CreatedBy, &created, &expires)
	if err != nil {
		return nil, err
	}
	u.Status = driver.UploadStatus(status)
	if md5 != "" {
		if u.WrittenMD5, err = hex.DecodeString(md5); err != nil {
			return nil, fmt.Errorf("upload %s: written_md5: %w", u.ID, err)
		}
	}
	u.CreatedAt = fromMicros(created)
	u.ExpiresAt = fromMicros(expires)
	return &u, nil
}
