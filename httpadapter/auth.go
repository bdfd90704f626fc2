package httpadapter

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/attachkit/attachkit/attach"
)

// UserHeader carries the acting user for BearerKeys.
const UserHeader = "X-User-Id"

// BearerKeys returns an Authenticate hook that maps "Authorization: Bearer
// <key>" to a workspace (keys maps key to workspace) and takes the acting
// user from the optional X-User-Id header. Without that header the caller
// acts as the workspace's administrator. Keys are compared in constant
// time.
func BearerKeys(keys map[string]string) func(*http.Request) (attach.Scope, error) {
	type entry struct{ key, workspace string }
	entries := make([]entry, 0, len(keys))
	for k, ws := range keys {
		entries = append(entries, entry{k, ws})
	}
	return func(r *http.Request) (attach.Scope, error) {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return attach.Scope{}, errors.New("no bearer token")
		}
		ws := ""
		for _, e := range entries { // no early exit: constant time in the key
			if subtle.ConstantTimeCompare([]byte(tok), []byte(e.key)) == 1 {
				ws = e.workspace
			}
		}
		if ws == "" {
			return attach.Scope{}, errors.New("unknown bearer token")
		}
		user := r.Header.Get(UserHeader)
		if len(user) > 256 || strings.ContainsFunc(user, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			return attach.Scope{}, errors.New("invalid " + UserHeader)
		}
		return attach.Scope{Workspace: ws, User: user}, nil
	}
}
