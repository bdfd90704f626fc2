package httpadapter

// organizeRoutes: collections and attachments to records.
func (h *Handler) organizeRoutes(auth authed, public anon) {}
