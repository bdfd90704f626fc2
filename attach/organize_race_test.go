package attach_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// hookStore is a real store that runs a hook once, before the first call
// of one of its methods: it injects what another user does at that moment.
type hookStore struct {
	driver.MetaStore
	once       sync.Once
	markDelete func()
}

func (h *hookStore) MarkDeleted(ctx context.Context, workspace, id string, at time.Time) error {
	if h.markDelete != nil {
		h.once.Do(h.markDelete)
	}
	return h.MetaStore.MarkDeleted(ctx, workspace, id, at)
}

// withStore returns an env whose Service runs over store.
func (e *env) withStore(t *testing.T, store driver.MetaStore) *env {
	t.Helper()
	n := *e
	var err error
	n.svc, err = attach.New(e.storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("ssssssssssssssssssssssssssssssss")}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	})
	require.NoError(t, err)
	return &n
}

func TestDeleteCollectionRecursiveSparesFileAddedMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	top := e.collection(t, alice, attach.CollectionRequest{Name: "top"})
	leaf := e.collection(t, alice, attach.CollectionRequest{Name: "leaf", ParentID: top.ID})
	e.uploadWith(t, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", CollectionID: leaf.ID}, pngBytes(t, 2, 2))
	var bobs *attach.File
	hs := &hookStore{MetaStore: e.store}
	hs.markDelete = func() { // after the rights check: bob puts a file into the tree
		bobs = e.uploadWith(t, bob, attach.UploadRequest{FileName: "b.png", MIMEType: "image/png", CollectionID: top.ID}, pngBytes(t, 3, 3))
	}
	err := e.withStore(t, hs).svc.DeleteCollection(ctx, alice, top.ID, &attach.DeleteCollectionOptions{Recursive: true})
	require.NotNil(t, bobs)
	requireOrgCode(t, err, attach.CodeForbidden)
	_, err = e.svc.File(ctx, bob, bobs.ID)
	require.NoError(t, err, "alice may not delete bob's file")
	_, err = e.svc.Collection(ctx, alice, top.ID)
	require.NoError(t, err, "the collection holding it stays")
}
