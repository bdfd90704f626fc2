package httpadapter

// directRoutes: uploads whose bytes flow through the application
// (multipart, data URIs) and imports from a URL.
func (h *Handler) directRoutes(auth authed, public anon) {}
