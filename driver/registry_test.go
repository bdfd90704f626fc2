package driver

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOpenErrorsNeverRepeatPasswords(t *testing.T) {
	for _, raw := range []string{
		"postgres://user:s3cret@host:bad-port/db",
		"nosuch://user:s3cret@host/db",
		"//user:s3cret@host/db",
		"postgres://user:s3cret@host/%zz",
	} {
		_, err := OpenMetaStore(context.Background(), raw)
		assert.True(t, errors.Is(err, ErrInvalidArgument), "%s: %v", raw, err)
		assert.NotContains(t, err.Error(), "s3cret", raw)
		_, err = OpenStorage(context.Background(), raw)
		assert.NotContains(t, err.Error(), "s3cret", raw)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	open := func(context.Context, *url.URL) (Storage, error) { return nil, nil }
	RegisterStorage("test-twice", open)
	assert.Panics(t, func() { RegisterStorage("test-twice", open) })
}
