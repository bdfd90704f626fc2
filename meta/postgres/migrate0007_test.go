package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/internal/metatest"
	"github.com/attachkit/attachkit/meta/postgres"
)

func TestMigration0007VersionStatus(t *testing.T) {
	serverURL(t)
	dsn := freshDSN(t)
	db := sqlDB(t, dsn)
	metatest.Migration0007VersionStatus(t, func() driver.MetaStore {
		s, err := postgres.Open(context.Background(), dsn, nil)
		require.NoError(t, err)
		return s
	}, func(query string) {
		_, err := db.Exec(query)
		require.NoError(t, err)
	})
}
