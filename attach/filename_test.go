package attach_test

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestCleanFileName(t *testing.T) {
	tests := []struct {
		name, in, want string
		bad            bool
	}{
		{name: "plain", in: "report.pdf", want: "report.pdf"},
		{name: "unicode", in: "Übersicht 文件.pdf", want: "Übersicht 文件.pdf"},
		{name: "emoji with zwj", in: "👩‍💻.png", want: "👩‍💻.png"},
		{name: "spaces trimmed", in: "  a.png ", want: "a.png"},
		{name: "unix traversal", in: "../../etc/passwd", want: "passwd"},
		{name: "windows path", in: `C:\Users\x\a.png`, want: "a.png"},
		{name: "trailing slash", in: "dir/", bad: true},
		{name: "dot", in: ".", bad: true},
		{name: "dotdot", in: "..", bad: true},
		{name: "traversal only", in: "../..", bad: true},
		{name: "empty", in: "", bad: true},
		{name: "NUL", in: "a\x00b", bad: true},
		{name: "CR LF", in: "a\r\nb", bad: true},
		{name: "tab", in: "a\tb", bad: true},
		{name: "DEL", in: "a\x7fb", bad: true},
		{name: "C1 control", in: "a\u0085b", bad: true},
		{name: "RLO", in: "gpj\u202Eexe.png", bad: true},
		{name: "LRI", in: "a\u2066b", bad: true},
		{name: "RLM", in: "a\u200Fb", bad: true},
		{name: "invalid utf8", in: "a\xc3", bad: true},
		{name: "255 bytes", in: strings.Repeat("a", 255), want: strings.Repeat("a", 255)},
		{name: "256 bytes", in: strings.Repeat("a", 256), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attach.CleanFileName(tt.in)
			if tt.bad {
				require.Error(t, err)
				assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzCleanFileName(f *testing.F) {
	for _, s := range []string{"a.png", "../x", "a\x00b", "gpj\u202Eexe", `C:\a\b.txt`, "  ", "文件.pdf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := attach.CleanFileName(in)
		if err != nil {
			return
		}
		if got == "" || got == "." || got == ".." || len(got) > attach.MaxFileNameBytes || !utf8.ValidString(got) ||
			strings.ContainsAny(got, "/\\\x00\r\n") {
			t.Fatalf("CleanFileName(%q) = %q: unsafe result", in, got)
		}
		again, err := attach.CleanFileName(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
		// A clean name always makes a header that parses back to itself.
		_, params, err := mime.ParseMediaType(attach.ContentDisposition(got, "image/png", false))
		if err != nil || params["filename"] != got {
			t.Fatalf("Content-Disposition for %q does not round-trip: %q, %v", got, params["filename"], err)
		}
	})
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name, file, mime string
		inline           bool
		wantDisp         string
	}{
		{name: "default attachment", file: "a.png", mime: "image/png", wantDisp: "attachment"},
		{name: "inline png", file: "a.png", mime: "image/png", inline: true, wantDisp: "inline"},
		{name: "inline pdf", file: "a.pdf", mime: "application/pdf", inline: true, wantDisp: "inline"},
		{name: "inline video", file: "a.mp4", mime: "video/mp4", inline: true, wantDisp: "inline"},
		{name: "never inline svg", file: "a.svg", mime: "image/svg+xml", inline: true, wantDisp: "attachment"},
		{name: "never inline html", file: "a.html", mime: "text/html", inline: true, wantDisp: "attachment"},
		{name: "never inline xml", file: "a.xml", mime: "application/xml", inline: true, wantDisp: "attachment"},
		{name: "never inline js", file: "a.js", mime: "text/javascript", inline: true, wantDisp: "attachment"},
		{name: "quotes", file: `a"; filename="evil.html`, mime: "image/png", wantDisp: "attachment"},
		{name: "backslash", file: `a\".png`, mime: "image/png", wantDisp: "attachment"},
		{name: "unicode", file: "résumé 文件.pdf", mime: "application/pdf", wantDisp: "attachment"},
		{name: "percent", file: "100%.png", mime: "image/png", wantDisp: "attachment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := attach.ContentDisposition(tt.file, tt.mime, tt.inline)
			disp, params, err := mime.ParseMediaType(h)
			require.NoError(t, err, h)
			assert.Equal(t, tt.wantDisp, disp)
			assert.Equal(t, tt.file, params["filename"], "filename* carries the exact name: %s", h)
			fallback := strings.SplitN(h, "filename*=", 2)[0]
			assert.Equal(t, 2, strings.Count(fallback, `"`), "the quoted fallback cannot end early: %s", h)
		})
	}
}

func TestPolicy(t *testing.T) {
	p := attach.Policy{Types: []attach.TypeRule{
		{MIMEType: "image/*", MaxSize: 10},
		{MIMEType: "image/png", MaxSize: 20},
		{MIMEType: "application/pdf"},
	}, MaxSize: 15}
	tests := []struct {
		mime string
		max  int64
		ok   bool
	}{
		{"image/png", 15, true}, // exact rule, capped by the policy
		{"IMAGE/PNG; charset=x", 15, true},
		{"image/gif", 10, true}, // family rule
		{"application/pdf", 15, true},
		{"text/html", 0, false},
		{"not a type", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.mime, func(t *testing.T) {
			max, ok := p.Allow(tt.mime)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.max, max)
		})
	}
	d := attach.DefaultPolicy()
	l := d.Limits()
	assert.Len(t, l.AllowedTypes, 10)
	assert.Equal(t, int64(50*attach.MB), l.MaxSize)
	_, ok := d.Allow("text/html")
	assert.False(t, ok)
}

func TestKindAndReadableSize(t *testing.T) {
	assert.Equal(t, attach.KindImage, attach.KindOf("image/png"))
	assert.Equal(t, attach.KindDocument, attach.KindOf("application/pdf"))
	assert.Equal(t, attach.KindSpreadsheet, attach.KindOf("text/csv"))
	assert.Equal(t, attach.KindVideo, attach.KindOf("video/mp4"))
	assert.Equal(t, attach.KindUnknown, attach.KindOf("bogus"))
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KB", 524288: "512 KB", 1536: "1.5 KB", 5 << 30: "5 GB"} {
		assert.Equal(t, want, attach.ReadableSize(n))
	}
}
