package httpadapter

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 document of the routes this package serves,
// with paths relative to the mount prefix.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(OpenAPI)
	return nil
}
