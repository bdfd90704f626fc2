package signedurl

import (
	"bytes"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	now    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k1     = Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	k2     = Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}
	claims = Claims{Method: "PUT", Key: "ws/file_1/v1/abc", Expires: now.Add(15 * time.Minute),
		Size: 42, Type: "image/png", Upload: "upl_1"}
)

func TestVerifyMatrix(t *testing.T) {
	s, err := New([]Key{k1})
	require.NoError(t, err)
	good := s.Sign(claims)
	tamper := func(name, v string) url.Values {
		q := url.Values{}
		for k, vs := range good {
			q[k] = append([]string(nil), vs...)
		}
		q.Set(name, v)
		return q
	}
	sig := good.Get("sig")
	tests := []struct {
		name   string
		method string
		key    string
		q      url.Values
		at     time.Time
		want   error
	}{
		{name: "valid", method: "PUT", key: claims.Key, q: good, at: now},
		{name: "wrong method", method: "GET", key: claims.Key, q: good, at: now, want: ErrInvalid},
		{name: "other key", method: "PUT", key: "ws/file_2/v1/abc", q: good, at: now, want: ErrInvalid},
		{name: "size changed", method: "PUT", key: claims.Key, q: tamper("size", "43"), at: now, want: ErrInvalid},
		{name: "type changed", method: "PUT", key: claims.Key, q: tamper("type", "text/html"), at: now, want: ErrInvalid},
		{name: "expiry extended", method: "PUT", key: claims.Key, q: tamper("exp", "99999999999"), at: now, want: ErrInvalid},
		{name: "upload changed", method: "PUT", key: claims.Key, q: tamper("up", "upl_2"), at: now, want: ErrInvalid},
		{name: "extra param", method: "PUT", key: claims.Key, q: tamper("x", "1"), at: now, want: ErrInvalid},
		{name: "truncated sig", method: "PUT", key: claims.Key, q: tamper("sig", sig[:len(sig)-2]), at: now, want: ErrInvalid},
		{name: "flipped sig", method: "PUT", key: claims.Key, q: tamper("sig", "A"+sig[1:]), at: now, want: ErrInvalid},
		{name: "sig with a CR inside", method: "PUT", key: claims.Key, q: tamper("sig", sig[:5]+"\r"+sig[5:]), at: now, want: ErrInvalid},
		{name: "sig with a trailing LF", method: "PUT", key: claims.Key, q: tamper("sig", sig+"\n"), at: now, want: ErrInvalid},
		{name: "not base64", method: "PUT", key: claims.Key, q: tamper("sig", "!!"), at: now, want: ErrInvalid},
		{name: "unknown kid", method: "PUT", key: claims.Key, q: tamper("kid", "k9"), at: now, want: ErrInvalid},
		{name: "no sig", method: "PUT", key: claims.Key, q: tamper("sig", ""), at: now, want: ErrInvalid},
		{name: "expired", method: "PUT", key: claims.Key, q: good, at: claims.Expires, want: ErrExpired},
		{name: "tampered and expired is invalid", method: "PUT", key: claims.Key, q: tamper("size", "1"), at: claims.Expires.Add(time.Hour), want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.method, tt.key, tt.q, tt.at)
			if tt.want != nil {
				assert.True(t, errors.Is(err, tt.want), "got %v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, claims.Size, c.Size)
			assert.Equal(t, claims.Type, c.Type)
			assert.Equal(t, claims.Upload, c.Upload)
			assert.True(t, claims.Expires.Equal(c.Expires))
		})
	}
}

func TestRotation(t *testing.T) {
	old, err := New([]Key{k1})
	require.NoError(t, err)
	rotated, err := New([]Key{k2, k1})
	require.NoError(t, err)
	q := old.Sign(claims)
	_, err = rotated.Verify("PUT", claims.Key, q, now)
	require.NoError(t, err, "old key still verifies")
	assert.Equal(t, "k2", rotated.Sign(claims).Get("kid"), "new key signs")
	onlyNew, err := New([]Key{k2})
	require.NoError(t, err)
	_, err = onlyNew.Verify("PUT", claims.Key, q, now)
	assert.ErrorIs(t, err, ErrInvalid, "retired key no longer verifies")
}

func TestNewValidatesKeys(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":         nil,
		"short secret": {{ID: "k", Secret: []byte("short")}},
		"bad id":       {{ID: "a b", Secret: k1.Secret}},
		"long id":      {{ID: "abcdefghijklmnopq", Secret: k1.Secret}},
		"duplicate":    {k1, k1},
	} {
		_, err := New(keys)
		assert.Error(t, err, name)
	}
}

func FuzzVerify(f *testing.F) {
	s, err := New([]Key{k1})
	require.NoError(f, err)
	f.Add("PUT", claims.Key, s.Sign(claims).Encode())
	f.Add("GET", "a/b", "m=GET&exp=1&sig=xx&kid=k1")
	f.Add("PUT", "", "size=-1&m=PUT")
	f.Fuzz(func(t *testing.T, method, key, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		c, err := s.Verify(method, key, q, now)
		if err != nil {
			return
		}
		// Anything that verifies must be exactly what was signed.
		if c.Key != key || c.Method != method || s.Sign(c).Get("sig") != q.Get("sig") {
			t.Fatalf("verified claims %+v do not re-sign to the same signature", c)
		}
	})
}
