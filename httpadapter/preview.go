package httpadapter

// previewRoutes: thumbnails.
func (h *Handler) previewRoutes(auth authed, public anon) {}
