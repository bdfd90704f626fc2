package attach_test

import (
	"context"
	"encoding/base64"
	"mime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// fuzzEnv is one Service shared by a fuzz target's inputs: building a
// SQLite file per input would make the fuzzer measure setup, not parsing.
func fuzzEnv(f *testing.F) *env { return newEnv(f, nil) }

// FuzzMediaType: a declared MIME type is the client's string. The policy,
// the kind and the presign must agree on what it means, and a refusal is
// always a typed 400.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{
		"image/png", "IMAGE/PNG", "text/plain; charset=utf-8", "image/png;", "image/*", "*/*",
		"application/octet-stream", "image/svg+xml", "text/html", `text/plain; charset="a;b"`,
		"image/png; x=\"\\\"\"", "", " ", "image/", "/png", "image/png\x00", "image/\u00e9",
		strings.Repeat("a", 300) + "/png", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	} {
		f.Add(s, int64(10))
	}
	e := fuzzEnv(f)
	policy := attach.DefaultPolicy()
	ctx := context.Background()
	scope := attach.Scope{Workspace: "ws-fuzz", User: "u"}
	f.Fuzz(func(t *testing.T, declared string, size int64) {
		max, ok := policy.Allow(declared)
		kind := attach.KindOf(declared)
		base, _, perr := mime.ParseMediaType(declared)
		if ok {
			require.NoError(t, perr, "an allowed type parses")
			require.GreaterOrEqual(t, max, int64(0))
			max2, ok2 := policy.Allow(strings.ToLower(base))
			require.True(t, ok2, "parameters and case never change the verdict")
			require.Equal(t, max, max2)
		}
		if perr != nil || len(declared) > 255 {
			require.Equal(t, attach.KindUnknown, kind, "an unparsable type has no kind")
		}

		up, err := e.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "f.bin", MIMEType: declared, Size: size})
		if err != nil {
			code := attach.CodeOf(err)
			require.Contains(t, []attach.Code{attach.CodeInvalidRequest, attach.CodeInvalidFileType, attach.CodeFileTooLarge}, code, "%v", err)
			return
		}
		require.True(t, ok, "a presign succeeds only for an allowed type")
		require.Positive(t, size)
		require.Equal(t, strings.ToLower(base), up.Headers["Content-Type"], "the signed type is the parsed, lower-cased base type")
	})
}

// FuzzListCursor: a cursor is the client's string, HMAC-bound to the
// listing. Nothing but the cursor the Service issued may position a page.
func FuzzListCursor(f *testing.F) {
	e := fuzzEnv(f)
	ctx := context.Background()
	scope := attach.Scope{Workspace: "ws-fuzz"}
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.upload(f, scope, "a.pdf", "application/pdf", pdfBytes(100+i)).ID)
	}
	page, err := e.svc.List(ctx, scope, &attach.ListOptions{Limit: 1})
	require.NoError(f, err)
	issued := page.NextCursor
	require.NotEmpty(f, issued)
	for _, s := range []string{issued, issued + "A", strings.ToUpper(issued), "", ".", "a.b", issued[:len(issued)-1], "e30.e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		p, err := e.svc.List(ctx, scope, &attach.ListOptions{Limit: 1, Cursor: cursor})
		if cursor == "" {
			require.NoError(t, err)
			return
		}
		if err != nil {
			require.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
			return
		}
		// Fuzz workers are separate processes, each with its own files
		// but the same key and scope, so a cursor another worker issued
		// is genuine here too. What must never pass is another spelling
		// of a cursor, or one that positions within these files without
		// being the one issued.
		payload, tag, _ := strings.Cut(cursor, ".")
		for _, part := range []string{payload, tag} {
			b, derr := base64.RawURLEncoding.Strict().DecodeString(part)
			require.NoError(t, derr, "accepted cursor %q is not canonical", cursor)
			require.Equal(t, part, base64.RawURLEncoding.EncodeToString(b), "accepted cursor %q has another spelling", cursor)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(payload)
		for _, id := range ids {
			if strings.Contains(string(raw), id) {
				require.Equal(t, issued, cursor, "an altered cursor positioned within this listing")
			}
		}
		require.LessOrEqual(t, len(p.Items), 1)
	})
}
