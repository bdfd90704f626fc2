package attach_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// pausingStore is the real store, with RecordWrite held at a gate: the
// window between a write and its record, which no real store widens on
// demand.
type pausingStore struct {
	driver.MetaStore
	arrived chan string // the upload id, when RecordWrite is reached
	release chan struct{}
}

func (p *pausingStore) RecordWrite(ctx context.Context, ws, uploadID string, w driver.WriteRecord) error {
	p.arrived <- uploadID
	<-p.release
	return p.MetaStore.RecordWrite(ctx, ws, uploadID, w)
}

// TestConfirmBetweenWriteAndRecord: a confirm that commits an upload while
// the library is between writing its bytes and recording them settles it;
// the writer returns that file and the committed bytes stay.
func TestConfirmBetweenWriteAndRecord(t *testing.T) {
	base := newEnv(t, nil)
	ps := &pausingStore{MetaStore: base.store, arrived: make(chan string, 1), release: make(chan struct{})}
	svc, err := attach.New(base.storage, ps, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}}, BaseURL: baseURL,
	})
	require.NoError(t, err)
	ctx := context.Background()
	body := pngBytes(t, 9, 9)

	type result struct {
		f   *attach.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := svc.Put(ctx, wsA, attach.PutRequest{FileName: "a.png", Size: -1}, bytes.NewReader(body))
		done <- result{f, err}
	}()
	uploadID := <-ps.arrived
	up, err := base.store.Upload(ctx, "ws-a", uploadID)
	require.NoError(t, err)
	confirmed, err := base.svc.Confirm(ctx, wsA, up.FileID) // another caller, same store
	require.NoError(t, err)
	close(ps.release)

	r := <-done
	require.NoError(t, r.err, "the writer sees the settled outcome, not a conflict")
	assert.Equal(t, confirmed.ID, r.f.ID)
	assert.Equal(t, 1, r.f.Version)
	c, err := svc.Open(ctx, wsA, r.f.ID, nil)
	require.NoError(t, err)
	defer c.Close()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, body, got, "the committed bytes are still there")
}
