package clamav_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/attachkit/attachkit/scan/clamav"
)

func Example() {
	addr := os.Getenv("ATTACH_CLAMD_ADDR") // e.g. tcp://127.0.0.1:3310
	if addr == "" {
		addr = "tcp://127.0.0.1:3310"
	}
	s := clamav.New(addr, nil)
	res, err := s.Scan(context.Background(), strings.NewReader("an upload"))
	switch {
	case err != nil:
		// No verdict (clamd down, timeout, too large): fail closed.
		fmt.Println("not scanned")
	case res.Infected:
		fmt.Println("infected:", res.Signature)
	default:
		fmt.Println("clean")
	}
}
