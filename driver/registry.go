package driver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// StorageOpener opens a Storage from a URL whose scheme it registered for.
type StorageOpener func(ctx context.Context, u *url.URL) (Storage, error)

// MetaStoreOpener opens a MetaStore from a URL whose scheme it registered
// for.
type MetaStoreOpener func(ctx context.Context, u *url.URL) (MetaStore, error)

var registry = struct {
	sync.RWMutex
	storage map[string]StorageOpener
	meta    map[string]MetaStoreOpener
}{storage: map[string]StorageOpener{}, meta: map[string]MetaStoreOpener{}}

// RegisterStorage makes a storage available by URL scheme. Implementation
// packages call it from init, as database/sql drivers do; importing the
// package (blob, for file, mem, s3, gs, azblob) is what makes a scheme
// available. Registering a scheme twice panics: it is a wiring mistake.
func RegisterStorage(scheme string, open StorageOpener) {
	registry.Lock()
	defer registry.Unlock()
	if open == nil {
		panic("driver: RegisterStorage opener is nil")
	}
	if _, dup := registry.storage[scheme]; dup {
		panic("driver: RegisterStorage called twice for scheme " + scheme)
	}
	registry.storage[scheme] = open
}

// RegisterMetaStore makes a metadata store available by URL scheme (see
// RegisterStorage).
func RegisterMetaStore(scheme string, open MetaStoreOpener) {
	registry.Lock()
	defer registry.Unlock()
	if open == nil {
		panic("driver: RegisterMetaStore opener is nil")
	}
	if _, dup := registry.meta[scheme]; dup {
		panic("driver: RegisterMetaStore called twice for scheme " + scheme)
	}
	registry.meta[scheme] = open
}

// OpenStorage opens a Storage from a URL through the opener registered for
// its scheme. An unknown scheme's error lists the registered ones.
func OpenStorage(ctx context.Context, rawURL string) (Storage, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	registry.RLock()
	open, ok := registry.storage[u.Scheme]
	known := keys(registry.storage)
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: unknown storage scheme %q (registered: %s; forgotten import of github.com/attachkit/attachkit/blob?)",
			ErrInvalidArgument, u.Scheme, known)
	}
	return open(ctx, u)
}

// OpenMetaStore opens a MetaStore from a URL through the opener registered
// for its scheme. An unknown scheme's error lists the registered ones.
func OpenMetaStore(ctx context.Context, rawURL string) (MetaStore, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	registry.RLock()
	open, ok := registry.meta[u.Scheme]
	known := keys(registry.meta)
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: unknown metadata scheme %q (registered: %s; forgotten import of a meta/... package?)",
			ErrInvalidArgument, u.Scheme, known)
	}
	return open(ctx, u)
}

// parseURL parses a backend URL. Its errors never repeat the URL, which
// may carry a password.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the whole URL
		}
		return nil, fmt.Errorf("%w: malformed URL: %v", ErrInvalidArgument, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%w: the URL has no scheme (want e.g. file:///var/lib/app/files)", ErrInvalidArgument)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}
