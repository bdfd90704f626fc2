// Package attach is the file-attachment lifecycle: presigned uploads,
// confirmation with server-side verification, metadata, signed downloads
// and deletion, over pluggable storage and metadata drivers.
//
// # Lifecycle
//
// A client asks for an upload ticket (Service.RequestUpload), PUTs the
// bytes straight to the returned URL, then confirms (Service.Confirm).
// A pending row is written before any URL is issued; Confirm verifies what
// actually arrived (presence, exact size, the type detected from the
// bytes, the SHA-256 digest, image dimensions) and makes it the file's
// current version in one conditional state change. Service.Put does the
// same for bytes that flow through the application.
//
// # Documents
//
// Service.List pages through a workspace's files with filters (collection,
// tag, kind, name) and keyset cursors whose cost does not grow with depth;
// Service.Update edits metadata (never the server-owned fields). Each
// content change is a new immutable Version: PutVersion and
// RequestVersionUpload take an expected version and answer
// CodeVersionConflict when another writer got there first, and
// RestoreVersion brings an old version back as a new one. With
// Options.Retention, Delete keeps files restorable (Undelete) for a while;
// temporary files (Persist false) vanish when they expire.
//
// # Collections and attachments
//
// Collections (CreateCollection, Collections, UpdateCollection,
// DeleteCollection) are nested, ordered folders of files; each may narrow
// the policy (allowed types, size) for the files put in it, which
// RequestUpload and Confirm enforce. Every member of a workspace sees its
// collections; their creator and administrators may change them.
//
// Attachments link files to the application's own records: a Record
// (type and id) has named fields, each an ordered set of files.
// SetAttachments replaces a field's set in one transaction and is
// idempotent, so an application calls it from its own record handlers
// and may retry it; Attach and Detach add and remove one file,
// Attachments reads a record, FileAttachments tells where a file is used.
// Attaching needs a ready file the acting user may view. Deleting a file
// removes its attachments (Undelete does not bring them back); the Purge
// options delete files a record let go of that were never attached to
// any other record.
//
// # Sharing
//
// CreateLink makes a public link: an anonymous, revocable, optionally
// expiring URL whose secret (192 random bits) is stored only as a SHA-256
// hash; OpenLink serves it, and every kind of miss is the same
// CodeNotFound. Links, like listing and revoking them, need the edit
// right. Files whose AccessControl is public-read have a stable anonymous
// URL (PublicURL, served by OpenPublic). With Options.PublicUpload,
// RequestPublicUpload and ConfirmPublicUpload take anonymous uploads into
// one workspace under a stricter policy, answering nothing but the new
// file's id and status. VerifyURL says whether a URL is one this service
// issued and would serve now, without fetching it.
//
// # Background work
//
// With Options.Scanner or Options.Processors, Confirm commits a version
// as processing together with a durable job, and a Worker (run one in
// every process: Worker.Run) scans it, runs the processors and settles
// the file as ready, rejected (malware: quarantined, never served) or
// failed, then calls the OnReady / OnRejected hooks; Delete records the
// OnDeleted hook the same way. Jobs are leased rows in the metadata
// store, retried with backoff, and survive crashes. Service.Sweep, run
// periodically by the Worker, removes expired tickets, temporary and
// deleted files past their time, and orphaned objects.
//
// # Thumbnails
//
// Service.Thumbnail returns a signed URL of a thumbnail of a version, in
// a size from Options.ThumbnailSizes, or nil when the type has no preview.
// Rendering is delegated to Options.Previewer (package preview; attach
// never decodes images itself). The first request of a size renders it
// once per process under a bounded pool, reading the source from storage
// as it goes, and stores it as a derivative of the version (source
// "generated") that later requests are served from and that goes with the
// file. With Options.EagerThumbnails, a Worker renders those before a
// confirmed version becomes ready (Service.GenerateThumbnails).
//
// # Drivers
//
// A Service wraps a driver.Storage (package blob: memory, local disk,
// cloud object stores) and a driver.MetaStore (package meta/sqlite, ...).
// Storages that sign URLs natively hand out their own; for the others the
// library signs its own URLs (HMAC-SHA256 binding method, key, expiry,
// size and type) and httpadapter serves them.
//
// # Scope
//
// Every call runs within a Scope: a workspace and an acting user. Another
// workspace's ids behave exactly like unknown ids (ErrNotFound). Within a
// workspace a file's owner, its access list and scopes without a user
// (workspace administrators) decide who may view, edit or delete it.
//
// # Errors
//
// Methods return *Error values whose Code is one of the API error codes;
// test them with errors.Is against the Err* sentinels, and reach
// structured details such as MaxSize with errors.As.
package attach
