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
