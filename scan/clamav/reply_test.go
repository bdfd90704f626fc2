package clamav

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func TestParseReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   string
		want    *driver.ScanResult
		wantErr error
	}{
		{name: "clean", reply: "stream: OK", want: &driver.ScanResult{}},
		{name: "found", reply: "stream: Eicar-Test-Signature FOUND", want: &driver.ScanResult{Infected: true, Signature: "Eicar-Test-Signature"}},
		{name: "found unofficial", reply: "stream: Eicar-Test-Signature.UNOFFICIAL FOUND",
			want: &driver.ScanResult{Infected: true, Signature: "Eicar-Test-Signature.UNOFFICIAL"}},
		{name: "found with extended detection info", reply: "stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND",
			want: &driver.ScanResult{Infected: true, Signature: "Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68)"}},
		{name: "size limit", reply: "INSTREAM size limit exceeded. ERROR", wantErr: ErrSizeLimit},
		{name: "other error", reply: "stream: Can't allocate memory ERROR"},
		{name: "empty", reply: ""},
		{name: "ok lowercase", reply: "stream: ok"},
		{name: "ok with newline", reply: "stream: OK\n"},
		{name: "a signature named OK", reply: "stream: OK FOUND", want: &driver.ScanResult{Infected: true, Signature: "OK"}},
		{name: "no stream prefix", reply: "Eicar FOUND"},
		{name: "other prefix", reply: "/tmp/x: Eicar FOUND"},
		{name: "empty signature", reply: "stream:  FOUND"},
		{name: "signature with space", reply: "stream: Two Words FOUND"},
		{name: "signature with newline", reply: "stream: A FOUND\nstream: B FOUND"},
		{name: "signature too long", reply: "stream: " + strings.Repeat("x", maxSignature+1) + " FOUND"},
		{name: "non-ascii signature", reply: "stream: Évil FOUND"},
		{name: "pong", reply: "PONG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReply(tt.reply)
			if tt.want != nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			assert.Nil(t, got)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

// FuzzParseReply checks that any reply either is an error or a verdict
// that reads back as exactly the reply, with a well-formed signature.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR",
		"stream: A FOUND\nstream: B FOUND", "stream:  FOUND", "stream: x ERROR", "", "PONG"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		res, err := parseReply(reply)
		if err != nil {
			if res != nil || len(err.Error()) > 360 {
				t.Fatalf("result %v with error %q", res, err)
			}
			return
		}
		if !res.Infected {
			if res.Signature != "" || reply != "stream: OK" {
				t.Fatalf("clean verdict %+v from %q", res, reply)
			}
			return
		}
		if !validSignature(res.Signature) || reply != "stream: "+res.Signature+" FOUND" {
			t.Fatalf("verdict %+v from %q", res, reply)
		}
	})
}
