package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attachkit/attachkit/driver"
)

// Bounds on collections.
const (
	maxCollectionNameBytes = 255
	maxCollectionTypes     = 64
	maxCollectionOrder     = 1 << 30
	// maxCollections bounds one listing of a parent's children and the
	// collections one recursive delete may remove.
	maxCollections = 1000
	// collectionPage is how many files a recursive delete handles at once.
	collectionPage = 100
)

// Collection is a named folder of files. Collections nest (ParentID),
// are ordered (Order, then Name) and may be starred; a collection may
// narrow the upload policy for its files (AllowedTypes, MaxSize), which
// uploads into it meet at presign and at confirm.
//
// Every member of a workspace sees its collections and may put files it
// may edit into them; changing or deleting a collection needs its creator
// or an administrator (a scope without a user).
type Collection struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	ParentID *string `json:"parentId"`
	Starred  bool    `json:"starred"`
	Order    int     `json:"order"`
	// AllowedTypes narrows the policy's types (exact or "family/*");
	// empty does not narrow.
	AllowedTypes []string `json:"allowedTypes"`
	// MaxSize narrows the policy's size limit; nil does not narrow.
	MaxSize   *int64    `json:"maxSize"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func collectionFromRecord(r *driver.CollectionRecord) *Collection {
	c := &Collection{ID: r.ID, Name: r.Name, Starred: r.Starred, Order: r.Order, AllowedTypes: r.AllowedTypes,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.ParentID != "" {
		p := r.ParentID
		c.ParentID = &p
	}
	if c.AllowedTypes == nil {
		c.AllowedTypes = []string{}
	}
	if r.MaxSize > 0 {
		m := r.MaxSize
		c.MaxSize = &m
	}
	return c
}

// CollectionRequest creates a collection.
type CollectionRequest struct {
	// Name is 1 to 255 bytes of printable UTF-8. Required.
	Name string
	// ParentID nests the collection in another one of the workspace
	// (at most 16 levels); empty puts it at the top level.
	ParentID string
	Starred  bool
	// Order sorts siblings (ascending; ties by name).
	Order int
	// AllowedTypes and MaxSize narrow the policy for the collection's
	// files; they never widen it.
	AllowedTypes []string
	MaxSize      int64
}

// CollectionUpdate changes a collection. Nil fields stay as they are.
type CollectionUpdate struct {
	Name *string
	// ParentID moves the collection; "" moves it to the top level. A
	// move under itself or a descendant is CodeInvalidRequest.
	ParentID     *string
	Starred      *bool
	Order        *int
	AllowedTypes *[]string // an empty list stops narrowing types
	MaxSize      *int64    // 0 stops narrowing the size
}

// DeleteCollectionOptions control DeleteCollection.
type DeleteCollectionOptions struct {
	// Recursive deletes the collection's sub-collections and the files of
	// all of them (like Delete, so with Options.Retention they stay
	// restorable, outside any collection). Without it a non-empty
	// collection is CodeConflict.
	Recursive bool
}

// CreateCollection creates a collection owned by the acting user. An
// unknown or foreign ParentID is CodeNotFound.
func (s *Service) CreateCollection(ctx context.Context, scope Scope, req CollectionRequest) (*Collection, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	name, err := cleanCollectionName(req.Name)
	if err != nil {
		return nil, err
	}
	if _, err := cleanCollectionID(req.ParentID); err != nil {
		return nil, err
	}
	if err := checkOrder(req.Order); err != nil {
		return nil, err
	}
	types, err := cleanAllowedTypes(req.AllowedTypes)
	if err != nil {
		return nil, err
	}
	if req.MaxSize < 0 {
		return nil, errorf(CodeInvalidRequest, "maxSize must not be negative")
	}
	now := s.now()
	r := &driver.CollectionRecord{Workspace: scope.Workspace, ID: newID("col"), ParentID: req.ParentID, Name: name,
		Starred: req.Starred, Order: req.Order, AllowedTypes: types, MaxSize: req.MaxSize, CreatedBy: scope.User,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateCollection(ctx, r); err != nil {
		return nil, wrap(err, "create collection")
	}
	return collectionFromRecord(r), nil
}

// Collection returns a collection of the scope's workspace.
func (s *Service) Collection(ctx context.Context, scope Scope, id string) (*Collection, error) {
	r, err := s.collectionRecord(ctx, scope, id, false)
	if err != nil {
		return nil, err
	}
	return collectionFromRecord(r), nil
}

// Collections lists the collections under parentID ("" for the top level)
// ordered by Order, then Name; at most 1000. An unknown or foreign parent
// is CodeNotFound.
func (s *Service) Collections(ctx context.Context, scope Scope, parentID string) ([]*Collection, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if parentID != "" {
		if _, err := s.collectionRecord(ctx, scope, parentID, false); err != nil {
			return nil, err
		}
	}
	rs, err := s.store.Collections(ctx, scope.Workspace, parentID, maxCollections)
	if err != nil {
		return nil, wrap(err, "list collections")
	}
	out := make([]*Collection, 0, len(rs))
	for i := range rs {
		out = append(out, collectionFromRecord(&rs[i]))
	}
	return out, nil
}

// UpdateCollection changes a collection. It needs the collection's
// creator or an administrator (CodeForbidden otherwise). A new parent
// that is unknown or foreign is CodeNotFound; one that is the collection
// itself or inside it, or a move past 16 levels, CodeInvalidRequest.
// Narrowing the policy does not touch files already in the collection.
func (s *Service) UpdateCollection(ctx context.Context, scope Scope, id string, req CollectionUpdate) (*Collection, error) {
	r, err := s.collectionRecord(ctx, scope, id, true)
	if err != nil {
		return nil, err
	}
	u := &driver.CollectionUpdate{Workspace: scope.Workspace, ID: id, Starred: req.Starred, At: s.now()}
	if req.Name != nil {
		name, err := cleanCollectionName(*req.Name)
		if err != nil {
			return nil, err
		}
		u.Name = &name
	}
	if req.ParentID != nil {
		if _, err := cleanCollectionID(*req.ParentID); err != nil {
			return nil, err
		}
		if *req.ParentID == id {
			return nil, errorf(CodeInvalidRequest, "a collection cannot be its own parent")
		}
		u.ParentID = req.ParentID
	}
	if req.Order != nil {
		if err := checkOrder(*req.Order); err != nil {
			return nil, err
		}
		u.Order = req.Order
	}
	if req.AllowedTypes != nil {
		types, err := cleanAllowedTypes(*req.AllowedTypes)
		if err != nil {
			return nil, err
		}
		u.AllowedTypes = &types
	}
	if req.MaxSize != nil {
		if *req.MaxSize < 0 {
			return nil, errorf(CodeInvalidRequest, "maxSize must not be negative")
		}
		u.MaxSize = req.MaxSize
	}
	if u.Name == nil && u.ParentID == nil && u.Starred == nil && u.Order == nil && u.AllowedTypes == nil && u.MaxSize == nil {
		return collectionFromRecord(r), nil
	}
	rec, err := s.store.UpdateCollection(ctx, u)
	if err != nil {
		if errors.Is(err, driver.ErrInvalidArgument) {
			return nil, &Error{Code: CodeInvalidRequest, Err: err,
				Message: fmt.Sprintf("cannot move the collection there: it would be inside itself or deeper than %d levels", driver.MaxCollectionDepth)}
		}
		return nil, wrap(err, "update collection")
	}
	return collectionFromRecord(rec), nil
}

// DeleteCollection deletes a collection. It needs the collection's creator
// or an administrator. A collection with sub-collections or files
// (pending ones included) is CodeConflict unless opts.Recursive is set;
// then, for a user who is not an administrator, every sub-collection must
// be theirs and every file deletable by them (else CodeForbidden and
// nothing is deleted); a file they may not delete that is added to the
// tree while it is deleted stops the deletion there (CodeForbidden, what
// remains stays). A tree of more than 1000 collections is
// CodeConflict: delete its branches first. Files are deleted like Delete
// does (with Options.Retention they stay restorable, outside any
// collection).
func (s *Service) DeleteCollection(ctx context.Context, scope Scope, id string, opts *DeleteCollectionOptions) error {
	if _, err := s.collectionRecord(ctx, scope, id, true); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if opts == nil || !opts.Recursive {
		err := s.store.DeleteCollection(ctx, scope.Workspace, id)
		if errors.Is(err, driver.ErrPrecondition) {
			return errorf(CodeConflict, "the collection is not empty; delete it with recursive to remove its contents")
		}
		return wrap(err, "delete collection")
	}
	tree, err := s.collectionTree(ctx, scope, id)
	if err != nil {
		return err
	}
	for _, c := range slices.Backward(tree) { // children before parents
		if err := s.emptyCollection(ctx, scope, c); err != nil {
			return err
		}
		err := s.store.DeleteCollection(ctx, scope.Workspace, c)
		switch {
		case errors.Is(err, driver.ErrPrecondition):
			return errorf(CodeConflict, "files or collections were added while the collection was deleted; retry")
		case err != nil && !errors.Is(err, driver.ErrNotFound):
			return wrap(err, "delete collection")
		}
	}
	return nil
}

// collectionTree returns id and its descendants, parents before children,
// after checking the acting user may delete all of them and their files.
// The walk is iterative and bounded by maxCollections.
func (s *Service) collectionTree(ctx context.Context, scope Scope, id string) ([]string, error) {
	tree := []string{id}
	for i := 0; i < len(tree); i++ {
		kids, err := s.store.Collections(ctx, scope.Workspace, tree[i], maxCollections)
		if err != nil {
			return nil, wrap(err, "list collections")
		}
		if len(tree)+len(kids) > maxCollections {
			return nil, errorf(CodeConflict, "more than %d collections to delete at once; delete the sub-collections first", maxCollections)
		}
		for _, k := range kids {
			if !scope.Admin() && k.CreatedBy != scope.User {
				return nil, errorf(CodeForbidden, "you may not delete the sub-collection %q", k.Name)
			}
			tree = append(tree, k.ID)
		}
		if scope.Admin() {
			continue
		}
		for after := ""; ; {
			fs, err := s.store.CollectionFiles(ctx, scope.Workspace, tree[i], after, collectionPage)
			if err != nil {
				return nil, wrap(err, "list collection files")
			}
			for j := range fs {
				if !allowed(scope, &fs[j], rightDelete) {
					return nil, errorf(CodeForbidden, "you do not have permission to delete every file in the collection")
				}
			}
			if len(fs) < collectionPage {
				break
			}
			after = fs[len(fs)-1].ID
		}
	}
	return tree, nil
}

// emptyCollection deletes the files of one collection, a page at a time.
func (s *Service) emptyCollection(ctx context.Context, scope Scope, id string) error {
	for {
		fs, err := s.store.CollectionFiles(ctx, scope.Workspace, id, "", collectionPage)
		if errors.Is(err, driver.ErrNotFound) {
			return nil
		}
		if err != nil {
			return wrap(err, "list collection files")
		}
		if len(fs) == 0 {
			return nil
		}
		for j := range fs {
			// The tree was checked before; a file put into it since must
			// pass the same check.
			if !allowed(scope, &fs[j], rightDelete) {
				return errorf(CodeForbidden, "a file you may not delete was added to the collection meanwhile; the rest stays")
			}
			if err := s.store.MarkDeleted(ctx, scope.Workspace, fs[j].ID, s.now()); err != nil {
				if errors.Is(err, driver.ErrNotFound) {
					continue // deleted meanwhile
				}
				return wrap(err, "mark deleted")
			}
			if s.opts.Retention <= 0 {
				if err := s.purge(ctx, scope.Workspace, fs[j].ID); err != nil {
					return err
				}
			}
		}
	}
}

// CollectionFiles returns a page of a collection's files, like List with
// ListOptions.CollectionID (opts.CollectionID is ignored). An unknown or
// foreign collection is CodeNotFound.
func (s *Service) CollectionFiles(ctx context.Context, scope Scope, id string, opts *ListOptions) (*Page, error) {
	if _, err := s.collectionRecord(ctx, scope, id, false); err != nil {
		return nil, err
	}
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	o.CollectionID = id
	return s.List(ctx, scope, &o)
}

// collectionRecord loads a collection of the scope's workspace; with
// change set the acting user must be its creator or an administrator.
func (s *Service) collectionRecord(ctx context.Context, scope Scope, id string, change bool) (*driver.CollectionRecord, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if err := checkID("col", id); err != nil {
		return nil, err
	}
	r, err := s.store.Collection(ctx, scope.Workspace, id)
	if err != nil {
		return nil, wrap(err, "load collection")
	}
	if change && !scope.Admin() && r.CreatedBy != scope.User {
		return nil, errorf(CodeForbidden, "only the collection's creator or an administrator may change it")
	}
	return r, nil
}

// collectionPolicy returns the policy for files in a collection: the
// service's, narrowed by the collection's. An empty id is the service's
// policy; an unknown or foreign collection is CodeNotFound.
func (s *Service) collectionPolicy(ctx context.Context, scope Scope, id string) (*Policy, error) {
	if id == "" {
		return &s.policy, nil
	}
	r, err := s.collectionRecord(ctx, scope, id, false)
	if err != nil {
		return nil, err
	}
	p := narrowPolicy(s.policy, r.AllowedTypes, r.MaxSize)
	return &p, nil
}

// filePolicy is the policy a file's new content must meet: its
// collection's, or the service's when it has none (or the collection was
// deleted meanwhile).
func (s *Service) filePolicy(ctx context.Context, f *driver.FileRecord) (*Policy, error) {
	if f.CollectionID == "" {
		return &s.policy, nil
	}
	r, err := s.store.Collection(ctx, f.Workspace, f.CollectionID)
	if errors.Is(err, driver.ErrNotFound) {
		return &s.policy, nil
	}
	if err != nil {
		return nil, wrap(err, "load collection")
	}
	p := narrowPolicy(s.policy, r.AllowedTypes, r.MaxSize)
	return &p, nil
}

// narrowPolicy intersects a policy with a collection's types and size: a type is
// allowed when both allow it, up to the smaller limit.
func narrowPolicy(p Policy, types []string, maxSize int64) Policy {
	out := Policy{MaxSize: p.MaxSize}
	if maxSize > 0 && (out.MaxSize == 0 || maxSize < out.MaxSize) {
		out.MaxSize = maxSize
	}
	if len(types) == 0 {
		out.Types = slices.Clone(p.Types)
		return out
	}
	family := func(t string) (string, bool) {
		f, ok := strings.CutSuffix(t, "/*")
		return f + "/", ok
	}
	add := func(r TypeRule) {
		if !slices.ContainsFunc(out.Types, func(x TypeRule) bool { return strings.EqualFold(x.MIMEType, r.MIMEType) }) {
			out.Types = append(out.Types, r)
		}
	}
	for _, r := range p.Types {
		rt := strings.ToLower(r.MIMEType)
		rf, rIsFamily := family(rt)
		for _, c := range types {
			cf, cIsFamily := family(c)
			switch {
			case rt == c:
				add(r)
			case cIsFamily && strings.HasPrefix(rt, cf): // the policy's type or family is inside the collection's family
				add(r)
			case rIsFamily && strings.HasPrefix(c, rf): // the collection names a type inside the policy's family
				add(TypeRule{MIMEType: c, MaxSize: r.MaxSize})
			}
		}
	}
	if out.Types == nil {
		out.Types = []TypeRule{}
	}
	return out
}

func cleanCollectionName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxCollectionNameBytes || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || isBidiControl(r) }) {
		return "", errorf(CodeInvalidRequest, "name must be 1 to %d bytes of UTF-8 without control characters", maxCollectionNameBytes)
	}
	return name, nil
}

func checkOrder(order int) error {
	if order < -maxCollectionOrder || order > maxCollectionOrder {
		return errorf(CodeInvalidRequest, "order must be between %d and %d", -maxCollectionOrder, maxCollectionOrder)
	}
	return nil
}

// cleanAllowedTypes validates a collection's types: exact media types or
// "family/*", lower-cased, each once.
func cleanAllowedTypes(types []string) ([]string, error) {
	if len(types) > maxCollectionTypes {
		return nil, errorf(CodeInvalidRequest, "allowedTypes: at most %d types", maxCollectionTypes)
	}
	out := []string{}
	for _, t := range types {
		lt := strings.ToLower(strings.TrimSpace(t))
		if f, ok := strings.CutSuffix(lt, "/*"); ok {
			if baseType(f+"/x") == "" || strings.Contains(f, "/") {
				return nil, errorf(CodeInvalidRequest, "allowedTypes: %.64q is not a media type or family/*", t)
			}
		} else if baseType(lt) != lt {
			return nil, errorf(CodeInvalidRequest, "allowedTypes: %.64q is not a media type or family/*", t)
		}
		if !slices.Contains(out, lt) {
			out = append(out, lt)
		}
	}
	return out, nil
}

// fitsCollection checks that a file may move into a collection: the
// collection exists in the scope's workspace, and the file's current
// content (if any) meets the collection's narrowed policy.
func (s *Service) fitsCollection(ctx context.Context, scope Scope, f *driver.FileRecord, id string) error {
	if id == "" || id == f.CollectionID {
		return nil
	}
	p, err := s.collectionPolicy(ctx, scope, id)
	if err != nil || f.Version == 0 {
		return err
	}
	max, ok := p.Allow(f.MIMEType)
	if !ok {
		return typeNotAllowedBy(p, f.MIMEType)
	}
	if max > 0 && f.Size > max {
		return tooLarge(max, f.Size)
	}
	return nil
}
