package httpadapter

// processRoutes: processing status.
func (h *Handler) processRoutes(auth authed, public anon) {}
