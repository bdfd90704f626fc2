package attach

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/attachkit/attachkit/driver"
)

// Bounds on edited metadata.
const (
	maxMetadataKeys     = 64
	maxMetadataKeyBytes = 128
	maxMetadataValue    = 4 << 10
	maxACLEntries       = 32
	maxPrincipalBytes   = 5 + 256 // "user:" and a user id
)

// UpdateRequest changes a file's metadata. Nil fields stay as they are;
// everything else about a file (content, size, digest, type, dimensions,
// status, owner, workspace, version, times) belongs to the server.
type UpdateRequest struct {
	// FileName renames the file; it is validated and normalised like an
	// upload's (CleanFileName). Versions keep the names they had.
	FileName *string
	// Title sets the title; an empty title is derived from the file name.
	Title *string
	// CollectionID moves the file into a collection of the workspace
	// (CodeNotFound for an unknown or foreign one), whose narrowed policy
	// the file's current content must meet (CodeInvalidFileType,
	// CodeFileTooLarge); an empty id takes it out of any collection.
	CollectionID *string
	// Tags replaces the tags (at most 64, each at most 128 bytes; blank and
	// duplicate tags are dropped).
	Tags *[]string
	// Metadata replaces the free-form metadata: a JSON object of at most
	// 64 keys (each 1 to 128 bytes), values of at most 4 KiB each, 16 KiB
	// in all. JSON null clears it.
	Metadata json.RawMessage
	// AccessControl is AccessPrivate or AccessPublicRead. Only the owner or
	// an administrator may change it.
	AccessControl *string
	// ACL replaces the access lists: up to 32 principals per right, each
	// "workspace" or "user:<id>". Only the owner or an administrator may
	// change it.
	ACL *ACL
}

// Update changes a file's metadata. It needs the edit right; changing
// AccessControl or ACL needs to be the file's owner or an administrator
// (CodeForbidden otherwise). Invalid fields are CodeInvalidRequest and
// change nothing. An empty request returns the file unchanged.
func (s *Service) Update(ctx context.Context, scope Scope, id string, req UpdateRequest) (*File, error) {
	r, err := s.fileRecord(ctx, scope, id, rightEdit)
	if err != nil {
		return nil, err
	}
	if (req.AccessControl != nil || req.ACL != nil) && !scope.Admin() && scope.User != r.Owner {
		return nil, errorf(CodeForbidden, "only the file's owner or an administrator may change its access")
	}
	u := &driver.FileUpdate{Workspace: scope.Workspace, ID: id, At: s.now()}
	name := r.FileName
	if req.FileName != nil {
		if name, err = CleanFileName(*req.FileName); err != nil {
			return nil, err
		}
		u.FileName = &name
	}
	if req.Title != nil {
		title := *req.Title
		if title == "" {
			title = titleOf(name)
		} else if err := checkTitle(title); err != nil {
			return nil, err
		}
		u.Title = &title
	}
	if req.CollectionID != nil {
		c, err := cleanCollectionID(*req.CollectionID)
		if err != nil {
			return nil, err
		}
		if err := s.fitsCollection(ctx, scope, r, c); err != nil {
			return nil, err
		}
		u.CollectionID = &c
	}
	if req.Tags != nil {
		tags, err := cleanTags(*req.Tags)
		if err != nil {
			return nil, err
		}
		u.Tags = &tags
	}
	if req.Metadata != nil {
		if u.Metadata, err = cleanMetadata(req.Metadata); err != nil {
			return nil, err
		}
	}
	if req.AccessControl != nil {
		ac := *req.AccessControl
		if ac != AccessPrivate && ac != AccessPublicRead {
			return nil, errorf(CodeInvalidRequest, "accessControl must be %s or %s", AccessPrivate, AccessPublicRead)
		}
		u.AccessControl = &ac
	}
	if req.ACL != nil {
		acl, err := cleanACL(*req.ACL)
		if err != nil {
			return nil, err
		}
		u.ACL = &acl
	}
	if u.FileName == nil && u.Title == nil && u.CollectionID == nil && u.Tags == nil && u.Metadata == nil &&
		u.AccessControl == nil && u.ACL == nil {
		return fileFromRecord(r), nil
	}
	rec, err := s.store.UpdateFile(ctx, u)
	if err != nil {
		return nil, wrap(err, "update file")
	}
	return fileFromRecord(rec), nil
}

func checkTitle(title string) error {
	if len(title) > 2*MaxFileNameBytes || !utf8.ValidString(title) ||
		strings.ContainsFunc(title, func(r rune) bool { return r < 0x20 || r == 0x7f || isBidiControl(r) }) {
		return errorf(CodeInvalidRequest, "title must be valid UTF-8 of at most %d bytes without control characters", 2*MaxFileNameBytes)
	}
	return nil
}

// cleanCollectionID validates the shape of a collection id (col_<uuid>);
// empty means no collection.
func cleanCollectionID(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if err := checkID("col", id); err != nil {
		return "", err
	}
	return id, nil
}

// cleanMetadata validates free-form metadata and returns it compacted;
// empty or null is the empty object.
func cleanMetadata(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	bad := func(format string, args ...any) error {
		return errorf(CodeInvalidRequest, "metadata: "+format, args...)
	}
	if len(raw) > maxMetadataSize {
		return nil, bad("at most %d bytes", maxMetadataSize)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, bad("must be a JSON object")
	}
	if len(obj) > maxMetadataKeys {
		return nil, bad("at most %d keys", maxMetadataKeys)
	}
	for k, v := range obj {
		if k == "" || len(k) > maxMetadataKeyBytes || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || isBidiControl(r) }) {
			return nil, bad("key %.32q must be 1 to %d bytes without control characters", k, maxMetadataKeyBytes)
		}
		if len(v) > maxMetadataValue {
			return nil, bad("the value of %.32q is over %d bytes", k, maxMetadataValue)
		}
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, bad("must be a JSON object")
	}
	return b.Bytes(), nil
}

// cleanACL validates access lists and drops duplicates.
func cleanACL(a ACL) (ACL, error) {
	clean := func(right string, list []string) ([]string, error) {
		if len(list) > maxACLEntries {
			return nil, errorf(CodeInvalidRequest, "acl.%s: at most %d principals", right, maxACLEntries)
		}
		out := []string{}
		for _, p := range list {
			user, isUser := strings.CutPrefix(p, "user:")
			switch {
			case p == "workspace":
			case isUser && user != "" && len(p) <= maxPrincipalBytes && utf8.ValidString(user) &&
				!strings.ContainsFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			default:
				return nil, errorf(CodeInvalidRequest, "acl.%s: %.64q is not \"workspace\" or \"user:<id>\"", right, p)
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	var out ACL
	var err error
	if out.View, err = clean("view", a.View); err != nil {
		return ACL{}, err
	}
	if out.Edit, err = clean("edit", a.Edit); err != nil {
		return ACL{}, err
	}
	if out.Delete, err = clean("delete", a.Delete); err != nil {
		return ACL{}, err
	}
	return out, nil
}

// versionConflict reports a stale expectation.
func versionConflict(current, expected int) *Error {
	return &Error{Code: CodeVersionConflict, Details: map[string]any{"currentVersion": current},
		Message: fmt.Sprintf("the file is at version %d, not %d", current, expected)}
}
