package httpadapter

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// server, import, stream and timer the adapter starts must end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
