package attach_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// uploadWith runs the presigned flow with extra request fields.
func (e *env) uploadWith(t *testing.T, scope attach.Scope, req attach.UploadRequest, body []byte) *attach.File {
	t.Helper()
	ctx := context.Background()
	req.Size = int64(len(body))
	up, err := e.svc.RequestUpload(ctx, scope, req)
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, req.MIMEType, body))
	f, err := e.svc.Confirm(ctx, scope, up.ID)
	require.NoError(t, err)
	return f
}

// listAll pages through a listing and returns the file names in order,
// checking that every page reports the same total, equal to the count.
func listAll(t *testing.T, svc *attach.Service, scope attach.Scope, o attach.ListOptions) []string {
	t.Helper()
	var names []string
	var totals []int64
	for range 100 {
		p, err := svc.List(context.Background(), scope, &o)
		require.NoError(t, err)
		totals = append(totals, p.Total)
		for _, f := range p.Items {
			names = append(names, f.FileName)
		}
		if p.NextCursor == "" {
			break
		}
		require.Len(t, p.Items, max(o.Limit, 1), "only the last page is short")
		o.Cursor = p.NextCursor
	}
	for _, n := range totals {
		assert.Equal(t, int64(len(names)), n)
	}
	return names
}

func TestList(t *testing.T) {
	e := newEnv(t, nil)
	png, pdf := pngBytes(t, 4, 4), pdfBytes(400)
	col, err := e.svc.CreateCollection(t.Context(), wsA, attach.CollectionRequest{Name: "One"})
	require.NoError(t, err)
	var created []string
	for i := range 12 {
		req := attach.UploadRequest{FileName: fmt.Sprintf("File %02d.png", 11-i), MIMEType: "image/png", Tags: []string{"t" + fmt.Sprint(i%3)}}
		body := png
		if i%4 == 0 {
			req.FileName, req.MIMEType, body = fmt.Sprintf("doc %02d_x%%.pdf", 11-i), "application/pdf", pdf
		}
		if i < 5 {
			req.CollectionID = col.ID
		}
		e.uploadWith(t, wsA, req, body)
		created = append(created, req.FileName)
		e.clock.Advance(time.Second)
	}
	e.upload(t, wsB, "foreign.png", "image/png", png)
	newest := make([]string, len(created))
	for i, n := range created {
		newest[len(created)-1-i] = n
	}

	tests := []struct {
		name string
		opts attach.ListOptions
		want []string
	}{
		{name: "default is newest first", opts: attach.ListOptions{Limit: 5}, want: newest},
		{name: "oldest first", opts: attach.ListOptions{Sort: attach.SortCreated, Limit: 4}, want: created},
		{name: "one per page", opts: attach.ListOptions{Sort: attach.SortCreated, Limit: 1}, want: created},
		{name: "by name, any case", opts: attach.ListOptions{Sort: attach.SortName, Limit: 7}}, // want: sortedFold
		{name: "collection", opts: attach.ListOptions{CollectionID: col.ID, Sort: attach.SortCreated, Limit: 2}, want: created[:5]},
		{name: "tag", opts: attach.ListOptions{Tag: "t1", Sort: attach.SortCreated, Limit: 2}, want: []string{created[1], created[4], created[7], created[10]}},
		{name: "kind", opts: attach.ListOptions{Kind: attach.KindDocument, Sort: attach.SortCreated}, want: []string{created[0], created[4], created[8]}},
		{name: "name contains, any case", opts: attach.ListOptions{Query: "FILE 1", Sort: attach.SortCreated}, want: []string{created[1]}},
		{name: "wildcards are literal", opts: attach.ListOptions{Query: "_x%", Sort: attach.SortCreated}, want: []string{created[0], created[4], created[8]}},
		{name: "underscore alone", opts: attach.ListOptions{Query: "_"}, want: []string{created[8], created[4], created[0]}},
		{name: "no match", opts: attach.ListOptions{Query: "zzz"}, want: nil},
		{name: "everything filtered", opts: attach.ListOptions{CollectionID: col.ID, Tag: "t0", Kind: attach.KindDocument, Query: "doc"}, want: []string{created[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if tt.opts.Sort == attach.SortName {
				want = sortedFold(created)
			}
			assert.Equal(t, want, listAll(t, e.svc, wsA, tt.opts))
		})
	}

	p, err := e.svc.List(context.Background(), wsA, nil)
	require.NoError(t, err)
	assert.Len(t, p.Items, 12, "default limit 20")
	assert.Empty(t, p.NextCursor)
	p, err = e.svc.List(context.Background(), wsB, nil)
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, "foreign.png", p.Items[0].FileName)
}

// sortedFold orders names case-insensitively (they differ in more than
// case, so ties by id do not matter).
func sortedFold(names []string) []string {
	out := append([]string(nil), names...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if strings.ToLower(out[j]) < strings.ToLower(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestListVisibility(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	png := pngBytes(t, 4, 4)
	e.upload(t, alice, "alice.png", "image/png", png)
	bobs := e.upload(t, bob, "bob.png", "image/png", png)
	shared := e.upload(t, bob, "shared.png", "image/png", png)
	public := e.upload(t, bob, "public.png", "image/png", png)
	e.upload(t, wsA, "admin.png", "image/png", png)
	_, err := e.svc.Update(ctx, bob, shared.ID, attach.UpdateRequest{ACL: &attach.ACL{View: []string{"user:alice"}}})
	require.NoError(t, err)
	pr := attach.AccessPublicRead
	_, err = e.svc.Update(ctx, bob, public.ID, attach.UpdateRequest{AccessControl: &pr})
	require.NoError(t, err)
	// Never listed: pending, rejected, deleted.
	_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "pending.png", MIMEType: "image/png", Size: 10})
	require.NoError(t, err)
	up, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "rejected.png", MIMEType: "image/png", Size: int64(len(htmlBytes))})
	require.NoError(t, err)
	writeDirect(t, e.storage, up.Key, htmlBytes)
	_, err = e.svc.Confirm(ctx, alice, up.ID)
	require.Error(t, err)
	gone := e.upload(t, alice, "gone.png", "image/png", png)
	require.NoError(t, e.svc.Delete(ctx, alice, gone.ID, nil))

	tests := []struct {
		name  string
		scope attach.Scope
		want  []string
	}{
		{name: "admin", scope: wsA, want: []string{"admin.png", "alice.png", "bob.png", "public.png", "shared.png"}},
		{name: "alice", scope: alice, want: []string{"alice.png", "public.png", "shared.png"}},
		{name: "bob", scope: bob, want: []string{"bob.png", "public.png", "shared.png"}},
		{name: "carol", scope: attach.Scope{Workspace: "ws-a", User: "carol"}, want: []string{"public.png"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, listAll(t, e.svc, tt.scope, attach.ListOptions{Sort: attach.SortName, Limit: 2}))
			for _, name := range tt.want { // what is listed can be read
				p, err := e.svc.List(ctx, tt.scope, &attach.ListOptions{Query: name})
				require.NoError(t, err)
				require.Len(t, p.Items, 1)
				_, err = e.svc.File(ctx, tt.scope, p.Items[0].ID)
				assert.NoError(t, err, name)
			}
		})
	}
	_, err = e.svc.File(ctx, attach.Scope{Workspace: "ws-a", User: "carol"}, bobs.ID)
	assert.Equal(t, attach.CodeForbidden, attach.CodeOf(err), "and what is not listed cannot")
}

func TestListCursor(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 5 {
		e.upload(t, alice, fmt.Sprintf("a%d.png", i), "image/png", pngBytes(t, 4, 4))
		e.upload(t, wsB, fmt.Sprintf("b%d.png", i), "image/png", pngBytes(t, 4, 4))
	}
	first, err := e.svc.List(ctx, alice, &attach.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.NotEmpty(t, first.NextCursor)
	foreign, err := e.svc.List(ctx, wsB, &attach.ListOptions{Limit: 2})
	require.NoError(t, err)
	payload, tag, _ := strings.Cut(first.NextCursor, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[1] == 'A' {
			b[1] = 'B'
		} else {
			b[1] = 'A'
		}
		return string(b)
	}
	otherKeys := newEnv(t, func(o *attach.Options) {
		o.SigningKeys = []attach.SigningKey{{ID: "k2", Secret: []byte(strings.Repeat("z", 32))}}
	})
	otherKeys.upload(t, alice, "x.png", "image/png", pngBytes(t, 4, 4))
	otherKeys.upload(t, alice, "y.png", "image/png", pngBytes(t, 4, 4))
	otherKeys.upload(t, alice, "z.png", "image/png", pngBytes(t, 4, 4))
	forged, err := otherKeys.svc.List(ctx, alice, &attach.ListOptions{Limit: 2})
	require.NoError(t, err)

	tests := []struct {
		name   string
		scope  attach.Scope
		opts   attach.ListOptions
		cursor string
	}{
		{name: "another workspace's cursor", scope: wsA, cursor: foreign.NextCursor},
		{name: "another workspace's cursor as a user", scope: alice, cursor: foreign.NextCursor},
		{name: "another user's cursor", scope: bob, cursor: first.NextCursor},
		{name: "the admin's cursor", scope: wsA, cursor: first.NextCursor},
		{name: "other filters", scope: alice, opts: attach.ListOptions{Tag: "x"}, cursor: first.NextCursor},
		{name: "other sort", scope: alice, opts: attach.ListOptions{Sort: attach.SortCreated}, cursor: first.NextCursor},
		{name: "altered payload", scope: alice, cursor: flip(payload) + "." + tag},
		{name: "altered tag", scope: alice, cursor: payload + "." + flip(tag)},
		{name: "signed with another key", scope: alice, cursor: forged.NextCursor},
		{name: "no tag", scope: alice, cursor: payload},
		{name: "garbage", scope: alice, cursor: "not a cursor"},
		{name: "oversized", scope: alice, cursor: strings.Repeat("A", 5000) + "." + tag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Limit, o.Cursor = 2, tt.cursor
			p, err := e.svc.List(ctx, tt.scope, &o)
			assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
			assert.Nil(t, p)
		})
	}
	// The genuine cursor goes on, with any page size.
	p, err := e.svc.List(ctx, alice, &attach.ListOptions{Limit: 10, Cursor: first.NextCursor})
	require.NoError(t, err)
	assert.Len(t, p.Items, 3)
	assert.Equal(t, int64(5), p.Total)
}

func TestListOptionsValidation(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name string
		opts attach.ListOptions
	}{
		{name: "negative limit", opts: attach.ListOptions{Limit: -1}},
		{name: "limit over 100", opts: attach.ListOptions{Limit: 101}},
		{name: "unknown sort", opts: attach.ListOptions{Sort: "size"}},
		{name: "unknown kind", opts: attach.ListOptions{Kind: "weird"}},
		{name: "long query", opts: attach.ListOptions{Query: strings.Repeat("a", 256)}},
		{name: "invalid utf8 query", opts: attach.ListOptions{Query: "a\xff"}},
		{name: "long tag", opts: attach.ListOptions{Tag: strings.Repeat("a", 129)}},
		{name: "collection with control", opts: attach.ListOptions{CollectionID: "a\nb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.List(context.Background(), wsA, &tt.opts)
			assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
		})
	}
	_, err := e.svc.List(context.Background(), attach.Scope{}, nil)
	assert.Equal(t, attach.CodeUnauthorized, attach.CodeOf(err))
	p, err := e.svc.List(context.Background(), wsA, &attach.ListOptions{Limit: 100})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	assert.Zero(t, p.Total)
}
