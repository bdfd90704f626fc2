// Package signedurl signs and verifies the URLs that attach issues for
// storages that cannot sign their own (memory, local disk).
//
// # Format
//
// A signed URL is the storage key in the path plus query parameters:
// m (method), exp (unix seconds), size, type, up (upload ticket), file, v
// (version), disp (Content-Disposition), kid (signing key id) and sig, an
// HMAC-SHA256 over an unambiguous, length-prefixed encoding of the key and
// every other parameter. Nothing in the URL is trusted before the
// signature is checked, and the check is constant-time.
//
// # Rotation
//
// A Signer holds several keys: the first signs, all verify, so a new key
// can be introduced first and the old one removed after the longest URL
// lifetime has passed.
package signedurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Verify.
var (
	// ErrInvalid reports a malformed, tampered or foreign URL, or one used
	// with the wrong method.
	ErrInvalid = errors.New("signedurl: invalid signature")
	// ErrExpired reports a correctly signed URL past its expiry.
	ErrExpired = errors.New("signedurl: expired")
)

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 32

// maxParam bounds every query parameter so a hostile URL cannot make
// verification expensive.
const maxParam = 2048

// Key is one signing key.
type Key struct {
	// ID names the key in URLs: 1 to 16 characters of [A-Za-z0-9_-].
	ID string
	// Secret is at least MinSecretLen random bytes.
	Secret []byte
}

// Claims are what a URL grants.
type Claims struct {
	Method      string    // "GET" or "PUT"
	Key         string    // storage key
	Expires     time.Time // second precision
	Size        int64     // PUT: exact body size
	Type        string    // PUT: exact Content-Type; GET: response type
	Upload      string    // PUT: upload ticket id
	File        string    // GET: file id
	Version     int       // GET: file version
	Disposition string    // GET: Content-Disposition of the response
}

// Signer signs and verifies URLs.
type Signer struct {
	keys []Key
}

// New returns a Signer. The first key signs; every key verifies.
func New(keys []Key) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("signedurl: no signing key")
	}
	seen := map[string]bool{}
	s := &Signer{}
	for _, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("signedurl: invalid key id %q (1-16 of A-Z a-z 0-9 _ -)", k.ID)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("signedurl: duplicate key id %q", k.ID)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("signedurl: key %q secret is %d bytes; need at least %d", k.ID, len(k.Secret), MinSecretLen)
		}
		seen[k.ID] = true
		s.keys = append(s.keys, Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)})
	}
	return s, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Sign returns the query parameters that grant c.
func (s *Signer) Sign(c Claims) url.Values {
	k := s.keys[0]
	q := params(c)
	q.Set("kid", k.ID)
	q.Set("sig", base64.RawURLEncoding.EncodeToString(mac(k.Secret, c.Key, q)))
	return q
}

// Verify checks that q signs key for method at time now and returns the
// claims. A bad, tampered or truncated signature, an unknown key id or a
// method mismatch is ErrInvalid; a valid signature past its expiry is
// ErrExpired.
func (s *Signer) Verify(method, key string, q url.Values, now time.Time) (Claims, error) {
	for name, vs := range q {
		if len(vs) != 1 || len(vs[0]) > maxParam || len(name) > 16 {
			return Claims{}, ErrInvalid
		}
	}
	if len(key) > maxParam {
		return Claims{}, ErrInvalid
	}
	sig, err := DecodeToken(q.Get("sig"))
	if err != nil || len(sig) != sha256.Size {
		return Claims{}, ErrInvalid
	}
	var secret []byte
	for _, k := range s.keys {
		if k.ID == q.Get("kid") {
			secret = k.Secret
		}
	}
	if secret == nil {
		return Claims{}, ErrInvalid
	}
	signed := url.Values{}
	for name, vs := range q {
		if name != "sig" && name != "kid" {
			signed[name] = vs
		}
	}
	if !hmac.Equal(sig, mac(secret, key, signed)) {
		return Claims{}, ErrInvalid
	}
	c, err := parse(key, signed)
	if err != nil || c.Method != method {
		return Claims{}, ErrInvalid
	}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

var fields = []string{"m", "exp", "size", "type", "up", "file", "v", "disp"}

func params(c Claims) url.Values {
	q := url.Values{}
	q.Set("m", c.Method)
	q.Set("exp", strconv.FormatInt(c.Expires.Unix(), 10))
	if c.Size > 0 || c.Method == "PUT" {
		q.Set("size", strconv.FormatInt(c.Size, 10))
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("type", c.Type)
	set("up", c.Upload)
	set("file", c.File)
	if c.Version > 0 {
		q.Set("v", strconv.Itoa(c.Version))
	}
	set("disp", c.Disposition)
	return q
}

func parse(key string, q url.Values) (Claims, error) {
	for name := range q {
		if !contains(fields, name) {
			return Claims{}, ErrInvalid
		}
	}
	c := Claims{Method: q.Get("m"), Key: key, Type: q.Get("type"), Upload: q.Get("up"),
		File: q.Get("file"), Disposition: q.Get("disp")}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	c.Expires = time.Unix(exp, 0)
	if v := q.Get("size"); v != "" {
		if c.Size, err = strconv.ParseInt(v, 10, 64); err != nil || c.Size < 0 {
			return Claims{}, ErrInvalid
		}
	}
	if v := q.Get("v"); v != "" {
		if c.Version, err = strconv.Atoi(v); err != nil || c.Version < 0 {
			return Claims{}, ErrInvalid
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mac is HMAC-SHA256 over "key" and each known field, every value
// length-prefixed so no two different claim sets encode alike.
func mac(secret []byte, key string, q url.Values) []byte {
	h := hmac.New(sha256.New, secret)
	var b strings.Builder
	write := func(name, v string) {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	write("key", key)
	for _, f := range fields {
		write(f, q.Get(f))
	}
	h.Write([]byte(b.String()))
	return h.Sum(nil)
}

// DecodeToken decodes unpadded base64url that has exactly one spelling:
// only the 64 alphabet characters, no unused bits set. The standard
// decoder, even in strict mode, skips CR and LF anywhere in its input, so
// "a\rb" would pass as "ab": a token that accepted that could be altered
// and still verify.
func DecodeToken(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, ErrInvalid
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
