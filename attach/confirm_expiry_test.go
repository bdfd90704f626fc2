package attach_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// statHook runs onStat (once armed) before each Attributes call: the
// point where confirm starts verifying.
type statHook struct {
	driver.Storage
	armed  atomic.Bool
	onStat func()
}

func (s *statHook) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	if s.armed.Load() {
		s.onStat()
	}
	return s.Storage.Attributes(ctx, key)
}

// TestConfirmRefusesTicketExpiredDuringVerify: a ticket that expires
// (past its grace) while confirm verifies is not committed, since the
// janitor may already have removed its bytes: the confirm answers
// CodeExpired and the file gets no version.
func TestConfirmRefusesTicketExpiredDuringVerify(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	st := &statHook{Storage: e.storage, onStat: func() { e.clock.Advance(2 * time.Hour) }}
	svc, err := attach.New(st, e.store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	})
	require.NoError(t, err)
	body := pdfBytes(800)
	up, err := svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	key, q := splitURL(t, up.URL)
	require.NoError(t, svc.WriteSigned(ctx, key, q, "application/pdf", int64(len(body)), bytes.NewReader(body)))

	st.armed.Store(true)
	_, err = svc.Confirm(ctx, alice, up.ID)
	assert.Equal(t, attach.CodeExpired, attach.CodeOf(err), "%v", err)
	rec, err := e.store.File(ctx, alice.Workspace, up.ID)
	require.NoError(t, err)
	assert.Zero(t, rec.Version, "the expired ticket was committed")
}
