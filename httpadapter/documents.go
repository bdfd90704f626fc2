package httpadapter

// documentRoutes: listing, metadata edits, versions, bulk download URLs.
func (h *Handler) documentRoutes(auth authed, public anon) {}
