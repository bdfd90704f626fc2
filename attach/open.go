package attach

import (
	"context"
	"errors"
	"fmt"

	"github.com/attachkit/attachkit/driver"
)

// Open returns a Service on the storage and metadata store two URLs name,
// so a deployment swaps backends by configuration:
//
//	svc, err := attach.Open(ctx, "file:///var/lib/app/files", "sqlite:///var/lib/app/attach.db", opts)
//	svc, err := attach.Open(ctx, "s3://bucket?region=eu-west-1", "postgres://app@db/app", opts)
//
// A scheme is available once the package that registers it is imported:
// github.com/attachkit/attachkit/blob for file, mem, s3, gs and azblob;
// meta/sqlite for sqlite; meta/postgres for postgres. Unknown schemes and
// parameters give errors that list what is available. The Service owns what
// Open opened: Close releases both.
func Open(ctx context.Context, storageURL, metaURL string, opts *Options) (*Service, error) {
	storage, err := driver.OpenStorage(ctx, storageURL)
	if err != nil {
		return nil, fmt.Errorf("attach: storage: %w", err)
	}
	store, err := driver.OpenMetaStore(ctx, metaURL)
	if err != nil {
		storage.Close()
		return nil, fmt.Errorf("attach: metadata: %w", err)
	}
	s, err := New(storage, store, opts)
	if err != nil {
		storage.Close()
		store.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Close releases the storage and metadata store if the Service opened them
// (Open); a Service made with New leaves them to their owner.
func (s *Service) Close() error {
	if !s.owned {
		return nil
	}
	return errors.Join(s.storage.Close(), s.store.Close())
}
