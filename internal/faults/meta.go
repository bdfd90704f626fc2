package faults

import (
	"context"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// MetaStore is a driver.MetaStore whose calls of the lifecycle, document
// and retention methods pass through an Injector; other methods go
// straight to the wrapped store.
type MetaStore struct {
	driver.MetaStore
	In *Injector
}

var _ driver.MetaStore = (*MetaStore)(nil)

// CreateUpload implements driver.MetaStore.
func (m *MetaStore) CreateUpload(ctx context.Context, file *driver.FileRecord, up *driver.UploadRecord) error {
	return call0(ctx, m.In, "CreateUpload", func(ctx context.Context) error { return m.MetaStore.CreateUpload(ctx, file, up) })
}

// File implements driver.MetaStore.
func (m *MetaStore) File(ctx context.Context, workspace, id string) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "File", func(ctx context.Context) (*driver.FileRecord, error) { return m.MetaStore.File(ctx, workspace, id) })
	return v, err
}

// Upload implements driver.MetaStore.
func (m *MetaStore) Upload(ctx context.Context, workspace, id string) (*driver.UploadRecord, error) {
	v, _, err := call(ctx, m.In, "Upload", func(ctx context.Context) (*driver.UploadRecord, error) { return m.MetaStore.Upload(ctx, workspace, id) })
	return v, err
}

// LatestUpload implements driver.MetaStore.
func (m *MetaStore) LatestUpload(ctx context.Context, workspace, fileID string) (*driver.UploadRecord, error) {
	v, _, err := call(ctx, m.In, "LatestUpload", func(ctx context.Context) (*driver.UploadRecord, error) {
		return m.MetaStore.LatestUpload(ctx, workspace, fileID)
	})
	return v, err
}

// RecordWrite implements driver.MetaStore.
func (m *MetaStore) RecordWrite(ctx context.Context, workspace, uploadID string, w driver.WriteRecord) error {
	return call0(ctx, m.In, "RecordWrite", func(ctx context.Context) error { return m.MetaStore.RecordWrite(ctx, workspace, uploadID, w) })
}

// CommitUpload implements driver.MetaStore.
func (m *MetaStore) CommitUpload(ctx context.Context, c *driver.Commit) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "CommitUpload", func(ctx context.Context) (*driver.FileRecord, error) { return m.MetaStore.CommitUpload(ctx, c) })
	return v, err
}

// RejectUpload implements driver.MetaStore.
func (m *MetaStore) RejectUpload(ctx context.Context, workspace, uploadID, code, reason string, at time.Time) error {
	return call0(ctx, m.In, "RejectUpload", func(ctx context.Context) error {
		return m.MetaStore.RejectUpload(ctx, workspace, uploadID, code, reason, at)
	})
}

// MarkDeleted implements driver.MetaStore.
func (m *MetaStore) MarkDeleted(ctx context.Context, workspace, id string, at time.Time) error {
	return call0(ctx, m.In, "MarkDeleted", func(ctx context.Context) error { return m.MetaStore.MarkDeleted(ctx, workspace, id, at) })
}

// FileKeys implements driver.MetaStore.
func (m *MetaStore) FileKeys(ctx context.Context, workspace, id string) ([]string, error) {
	v, _, err := call(ctx, m.In, "FileKeys", func(ctx context.Context) ([]string, error) { return m.MetaStore.FileKeys(ctx, workspace, id) })
	return v, err
}

// PurgeFile implements driver.MetaStore.
func (m *MetaStore) PurgeFile(ctx context.Context, workspace, id string) error {
	return call0(ctx, m.In, "PurgeFile", func(ctx context.Context) error { return m.MetaStore.PurgeFile(ctx, workspace, id) })
}

// Versions implements driver.MetaStore.
func (m *MetaStore) Versions(ctx context.Context, workspace, fileID string) ([]driver.VersionRecord, error) {
	v, _, err := call(ctx, m.In, "Versions", func(ctx context.Context) ([]driver.VersionRecord, error) {
		return m.MetaStore.Versions(ctx, workspace, fileID)
	})
	return v, err
}

// Version implements driver.MetaStore.
func (m *MetaStore) Version(ctx context.Context, workspace, fileID string, version int) (*driver.VersionRecord, error) {
	v, _, err := call(ctx, m.In, "Version", func(ctx context.Context) (*driver.VersionRecord, error) {
		return m.MetaStore.Version(ctx, workspace, fileID, version)
	})
	return v, err
}

// ListFiles implements driver.MetaStore.
func (m *MetaStore) ListFiles(ctx context.Context, q *driver.ListQuery) (*driver.ListPage, error) {
	v, _, err := call(ctx, m.In, "ListFiles", func(ctx context.Context) (*driver.ListPage, error) { return m.MetaStore.ListFiles(ctx, q) })
	return v, err
}

// UpdateFile implements driver.MetaStore.
func (m *MetaStore) UpdateFile(ctx context.Context, u *driver.FileUpdate) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "UpdateFile", func(ctx context.Context) (*driver.FileRecord, error) { return m.MetaStore.UpdateFile(ctx, u) })
	return v, err
}

// CopyVersion implements driver.MetaStore.
func (m *MetaStore) CopyVersion(ctx context.Context, c *driver.VersionCopy) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "CopyVersion", func(ctx context.Context) (*driver.FileRecord, error) { return m.MetaStore.CopyVersion(ctx, c) })
	return v, err
}

// DeletedFile implements driver.MetaStore.
func (m *MetaStore) DeletedFile(ctx context.Context, workspace, id string) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "DeletedFile", func(ctx context.Context) (*driver.FileRecord, error) {
		return m.MetaStore.DeletedFile(ctx, workspace, id)
	})
	return v, err
}

// Undelete implements driver.MetaStore.
func (m *MetaStore) Undelete(ctx context.Context, workspace, id string, deletedAfter time.Time) (*driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "Undelete", func(ctx context.Context) (*driver.FileRecord, error) {
		return m.MetaStore.Undelete(ctx, workspace, id, deletedAfter)
	})
	return v, err
}

// SweepFiles implements driver.MetaStore.
func (m *MetaStore) SweepFiles(ctx context.Context, q *driver.SweepQuery) ([]driver.FileRecord, error) {
	v, _, err := call(ctx, m.In, "SweepFiles", func(ctx context.Context) ([]driver.FileRecord, error) { return m.MetaStore.SweepFiles(ctx, q) })
	return v, err
}
