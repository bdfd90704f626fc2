package attach

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Scope is who a call acts for: a workspace, and optionally a user within
// it. A scope without a user acts as the workspace's administrator.
type Scope struct {
	Workspace string
	User      string
}

// Admin reports whether the scope acts for the workspace as a whole.
func (s Scope) Admin() bool { return s.User == "" }

// Status is a file's lifecycle state.
type Status = driver.FileStatus

// File lifecycle states.
const (
	StatusPending    = driver.StatusPending
	StatusProcessing = driver.StatusProcessing
	StatusReady      = driver.StatusReady
	StatusRejected   = driver.StatusRejected
	StatusFailed     = driver.StatusFailed
)

// Source says where a file's current content came from.
type Source string

// Content sources.
const (
	SourceUpload    Source = "upload"
	SourceGenerated Source = "generated"
	SourceEdited    Source = "edited"
	SourceImport    Source = "import"
)

// Access control modes.
const (
	AccessPrivate    = "private"
	AccessPublicRead = "public-read"
)

// ACL lists principals ("user:<id>" or "workspace") granted each right in
// addition to the owner.
type ACL = driver.ACL

// File is a file's metadata as clients see it. Content fields describe the
// current version.
type File struct {
	ID            string          `json:"id"`
	FileName      string          `json:"fileName"`
	Title         string          `json:"title"`
	MIMEType      string          `json:"mimeType"`
	Kind          Kind            `json:"kind"`
	Size          int64           `json:"fileSize"`
	ReadableSize  string          `json:"readableSize"`
	Digest        string          `json:"digest"`
	Width         *int            `json:"width"`
	Height        *int            `json:"height"`
	Status        Status          `json:"status"`
	Source        Source          `json:"source"`
	Version       int             `json:"version"`
	Owner         string          `json:"owner"`
	CollectionID  *string         `json:"collectionId"`
	Tags          []string        `json:"tags"`
	Metadata      json.RawMessage `json:"metadata"`
	AccessControl string          `json:"accessControl"`
	ACL           ACL             `json:"acl"`
	Persist       bool            `json:"persist"`
	ExpiresAt     *time.Time      `json:"expiresAt"`
	CreatedAt     time.Time       `json:"createdAt"`
	UpdatedAt     time.Time       `json:"updatedAt"`

	workspace string
}

// Workspace returns the workspace the file belongs to.
func (f *File) Workspace() string { return f.workspace }

func fileFromRecord(r *driver.FileRecord) *File {
	f := &File{
		ID: r.ID, FileName: r.FileName, Title: r.Title, MIMEType: r.MIMEType,
		Kind: Kind(r.Kind), Size: r.Size, ReadableSize: ReadableSize(r.Size), Digest: r.Digest,
		Status: r.Status, Source: Source(r.Source), Version: r.Version, Owner: r.Owner,
		Tags: r.Tags, Metadata: json.RawMessage(r.Metadata), AccessControl: r.AccessControl,
		ACL: r.ACL, Persist: r.Persist, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		workspace: r.Workspace,
	}
	if f.Kind == "" {
		f.Kind = KindOf(r.MIMEType)
	}
	if r.Width > 0 && r.Height > 0 {
		w, h := r.Width, r.Height
		f.Width, f.Height = &w, &h
	}
	if r.CollectionID != "" {
		c := r.CollectionID
		f.CollectionID = &c
	}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	if len(f.Metadata) == 0 {
		f.Metadata = json.RawMessage("{}")
	}
	f.ACL = normalizeACL(f.ACL)
	if !r.ExpiresAt.IsZero() {
		t := r.ExpiresAt.UTC()
		f.ExpiresAt = &t
	}
	return f
}

func normalizeACL(a ACL) ACL {
	if a.View == nil {
		a.View = []string{}
	}
	if a.Edit == nil {
		a.Edit = []string{}
	}
	if a.Delete == nil {
		a.Delete = []string{}
	}
	return a
}

// Version is one immutable version of a file's content.
type Version struct {
	Version   int       `json:"version"`
	FileName  string    `json:"fileName"`
	MIMEType  string    `json:"mimeType"`
	Size      int64     `json:"fileSize"`
	Digest    string    `json:"digest"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

func versionFromRecord(r *driver.VersionRecord) Version {
	return Version{Version: r.Version, FileName: r.FileName, MIMEType: r.MIMEType, Size: r.Size,
		Digest: r.Digest, CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy}
}

// FileLimits tell a client what an upload may be, so it can check before
// sending bytes.
type FileLimits struct {
	AllowedTypes []string `json:"allowedTypes"`
	MaxSize      int64    `json:"maxSize"`
}

// Upload is an upload ticket: where and how to send the bytes, and until
// when. Confirm the file with Service.Confirm(ID) after the PUT succeeds.
type Upload struct {
	ID         string            `json:"id"`
	URL        string            `json:"uploadUrl"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expiresAt"`
	Key        string            `json:"key"`
	FileLimits FileLimits        `json:"fileLimits"`
	// UploadID identifies the ticket itself (a file may get several over
	// its versions).
	UploadID string `json:"uploadId"`
}

// StatusError says why a file was rejected or failed.
type StatusError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// StatusInfo is a file's processing state, for polling.
type StatusInfo struct {
	ID     string       `json:"id"`
	Status Status       `json:"status"`
	Error  *StatusError `json:"error,omitempty"`
}

// SignedURL is a time-limited URL.
type SignedURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ReadableSize formats a byte count the way the API shows it ("512 KB").
func ReadableSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n) / unit
	i := 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[i]
}
