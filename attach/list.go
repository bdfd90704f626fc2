package attach

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/signedurl"
)

// ListSort orders a listing.
type ListSort string

// Listing orders. Ties are broken by file id.
const (
	SortCreated ListSort = "createdAt"  // oldest first
	SortNewest  ListSort = "-createdAt" // newest first (the default)
	SortName    ListSort = "fileName"   // by file name, case-insensitively
)

// Listing bounds.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
	maxCursorLen     = 2048
)

// ListOptions filter, order and page a listing. The zero value lists the
// newest 20 files.
type ListOptions struct {
	// CollectionID lists the files of one collection.
	CollectionID string
	// Tag lists the files carrying this exact tag.
	Tag string
	// Kind lists the files of one kind.
	Kind Kind
	// Query lists the files whose name contains it, case-insensitively.
	// It is a literal: % and _ match themselves.
	Query string
	// Sort orders the files; default SortNewest.
	Sort ListSort
	// Limit is the page size, 1 to MaxListLimit; 0 means DefaultListLimit.
	Limit int
	// Cursor continues a listing: a previous Page's NextCursor, used with
	// the same filters and sort by the same scope.
	Cursor string
}

// Page is one page of a listing.
type Page struct {
	Items []*File `json:"items"`
	// NextCursor continues the listing (ListOptions.Cursor); empty on the
	// last page (null in JSON).
	NextCursor string `json:"nextCursor"`
	// Total is the number of files the filters match, across all pages.
	Total int64 `json:"total"`
}

// MarshalJSON writes NextCursor as null on the last page.
func (p Page) MarshalJSON() ([]byte, error) {
	type page Page
	var next *string
	if p.NextCursor != "" {
		next = &p.NextCursor
	}
	items := p.Items
	if items == nil {
		items = []*File{}
	}
	return json.Marshal(struct {
		page
		Items      []*File `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}{page(p), items, next})
}

// List returns a page of the files of the scope's workspace that the
// acting user may view (all of them for an administrator scope): files
// with confirmed content (ready, processing or failed) that are neither
// deleted nor expired. Pending uploads and rejected first uploads are not
// listed; poll them by id.
//
// Pages are keyset pages: a page costs the same however deep the cursor
// is, and files added or removed between pages neither repeat nor shift
// the others. A cursor is bound to the scope (workspace and user), the
// filters and the sort, and is signed with the first of
// Options.SigningKeys (or, without signing keys, checksummed); any other
// cursor is CodeInvalidRequest. Cursors do not expire.
func (s *Service) List(ctx context.Context, scope Scope, opts *ListOptions) (*Page, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	if err := checkListOptions(&o); err != nil {
		return nil, err
	}
	q := &driver.ListQuery{
		Workspace: scope.Workspace, Viewer: scope.User, CollectionID: o.CollectionID, Tag: o.Tag,
		Kind: string(o.Kind), NameContains: o.Query, Sort: driver.ListSort(o.Sort), Limit: o.Limit + 1, Now: s.now(),
	}
	if o.Cursor != "" {
		after, err := s.decodeCursor(scope, &o)
		if err != nil {
			return nil, err
		}
		q.After = after
	}
	res, err := s.store.ListFiles(ctx, q)
	if err != nil {
		return nil, wrap(err, "list files")
	}
	page := &Page{Items: make([]*File, 0, min(len(res.Files), o.Limit)), Total: res.Total}
	for i := range res.Files[:min(len(res.Files), o.Limit)] {
		page.Items = append(page.Items, fileFromRecord(&res.Files[i]))
	}
	if len(res.Files) > o.Limit {
		last := &res.Files[o.Limit-1]
		page.NextCursor = s.encodeCursor(scope, &o, &driver.ListKey{CreatedAt: last.CreatedAt, FileName: last.FileName, ID: last.ID})
	}
	return page, nil
}

func checkListOptions(o *ListOptions) error {
	switch {
	case o.Limit == 0:
		o.Limit = DefaultListLimit
	case o.Limit < 0 || o.Limit > MaxListLimit:
		return errorf(CodeInvalidRequest, "limit must be between 1 and %d", MaxListLimit)
	}
	switch o.Sort {
	case "":
		o.Sort = SortNewest
	case SortCreated, SortNewest, SortName:
	default:
		return errorf(CodeInvalidRequest, "sort must be createdAt, -createdAt or fileName")
	}
	if o.Kind != "" && !knownKind(o.Kind) {
		return errorf(CodeInvalidRequest, "kind %.32q is not a known kind", o.Kind)
	}
	if o.CollectionID != "" {
		if _, err := cleanCollectionID(o.CollectionID); err != nil {
			return err
		}
	}
	if o.Tag != "" {
		if _, err := cleanTags([]string{o.Tag}); err != nil {
			return err
		}
	}
	if len(o.Query) > MaxFileNameBytes || !utf8.ValidString(o.Query) {
		return errorf(CodeInvalidRequest, "q must be valid UTF-8 of at most %d bytes", MaxFileNameBytes)
	}
	if len(o.Cursor) > maxCursorLen {
		return errorf(CodeInvalidRequest, "invalid cursor")
	}
	return nil
}

func knownKind(k Kind) bool {
	switch k {
	case KindDocument, KindImage, KindVideo, KindAudio, KindSpreadsheet, KindPresentation,
		KindText, KindArchive, KindFont, KindApplication, KindUnknown:
		return true
	}
	return false
}

// cursorPos is a cursor's payload: the last file's sort values.
type cursorPos struct {
	CreatedAt int64  `json:"t,omitempty"` // microseconds
	FileName  string `json:"n,omitempty"`
	ID        string `json:"i"`
}

// encodeCursor returns base64url(payload) "." base64url(tag), the tag
// binding the payload to the scope, the filters and the sort.
func (s *Service) encodeCursor(scope Scope, o *ListOptions, k *driver.ListKey) string {
	pos := cursorPos{ID: k.ID}
	if o.Sort == SortName {
		pos.FileName = k.FileName
	} else {
		pos.CreatedAt = k.CreatedAt.UnixMicro()
	}
	payload, _ := json.Marshal(pos) // plain fields: cannot fail
	keys := s.cursorKeys()
	return base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(cursorTag(keys[0], scope, o, payload))
}

// decodeCursor verifies o.Cursor and returns its position.
func (s *Service) decodeCursor(scope Scope, o *ListOptions) (*driver.ListKey, error) {
	bad := errorf(CodeInvalidRequest, "invalid cursor: it belongs to another listing or was altered")
	p64, t64, ok := strings.Cut(o.Cursor, ".")
	if !ok {
		return nil, bad
	}
	// A cursor has one spelling, so it cannot be altered and still pass.
	payload, err1 := signedurl.DecodeToken(p64)
	tag, err2 := signedurl.DecodeToken(t64)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	valid := false
	for _, k := range s.cursorKeys() {
		if hmac.Equal(tag, cursorTag(k, scope, o, payload)) {
			valid = true
		}
	}
	var pos cursorPos
	if !valid || json.Unmarshal(payload, &pos) != nil || pos.ID == "" {
		return nil, bad
	}
	return &driver.ListKey{CreatedAt: time.UnixMicro(pos.CreatedAt).UTC(), FileName: pos.FileName, ID: pos.ID}, nil
}

// cursorKeys derives the cursor MAC keys from the signing keys (the first
// signs, all verify). Without signing keys the single nil key makes the
// tag a plain SHA-256 checksum: still bound to the listing, and a cursor
// only ever positions within the caller's own listing.
func (s *Service) cursorKeys() [][]byte {
	if len(s.opts.SigningKeys) == 0 {
		return [][]byte{nil}
	}
	keys := make([][]byte, len(s.opts.SigningKeys))
	for i, k := range s.opts.SigningKeys {
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte("attachkit/list-cursor/v1"))
		keys[i] = m.Sum(nil)
	}
	return keys
}

// cursorTag is the first 16 bytes of HMAC-SHA256 (or SHA-256 when key is
// nil) over a length-prefixed encoding of the listing and the payload.
func cursorTag(key []byte, scope Scope, o *ListOptions, payload []byte) []byte {
	var h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	if key == nil {
		h = sha256.New()
	} else {
		h = hmac.New(sha256.New, key)
	}
	for _, f := range []string{"attachkit/list-cursor/v1", scope.Workspace, scope.User, o.CollectionID, o.Tag,
		string(o.Kind), o.Query, string(o.Sort), string(payload)} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)[:16]
}
