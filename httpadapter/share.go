package httpadapter

// shareRoutes: public links, public upload and URL verification.
func (h *Handler) shareRoutes(auth authed, public anon) {}
