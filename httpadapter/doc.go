// Package httpadapter mounts Attachkit's REST API (API.md) into any
// net/http server.
//
// # Mounting
//
//	h, err := httpadapter.New(svc, &httpadapter.Options{
//		Prefix:       "/v1",
//		Authenticate: httpadapter.BearerKeys(map[string]string{"dev-key": "default"}),
//	})
//	mux.Handle("/v1/", h)
//
// The attach.Service's Options.BaseURL must point at the blob endpoints
// of the mounted handler: "<public origin>/v1/blob" for the example above.
//
// # Routes
//
// Authenticated: POST /files/upload-url, POST /files/{id}/confirm, GET
// /files/{id}/status, GET /files/{id}, GET /files/{id}/download, GET
// /files/{id}/content (302), DELETE /files/{id}. Anonymous: PUT and GET
// /blob/{key} (library-signed URLs; the signature is the credential), GET
// /healthz, GET /openapi.yaml (the document in OpenAPI) and GET /attach.js
// (the browser client in BrowserClient).
//
// Documents (authenticated): GET /files (keyset pages with filters), PATCH
// /files/{id}, POST /files/download-urls, GET /files/{id}/versions, POST
// /files/{id}/versions/upload-url, PUT /files/{id}/content (a new version
// from the body, with If-Match: "<version>" or ?ifVersion=) and POST
// /files/{id}/versions/{n}/restore. POST /files/{id}/confirm?uploadId=
// confirms one ticket when several version uploads are in flight.
//
// Organisation (authenticated): POST and GET /collections, GET, PATCH and
// DELETE (?recursive=true) /collections/{id}, GET /collections/{id}/files;
// PUT (replace the set), POST (add one) /records/{type}/{recordId}/
// attachments/{field}, GET /records/{type}/{recordId}/attachments, DELETE
// /records/{type}/{recordId}/attachments/{field}/{fileId} and GET
// /files/{id}/attachments (where a file is used).
// Sharing: POST and GET /files/{id}/links and DELETE /links/{linkId}
// (authenticated, edit right), POST /urls/verify (authenticated), and the
// anonymous GET /public/links/{linkId}/{fileName} (a public link), GET
// /public/files/{id}/{fileName} (a public-read file), POST
// /public/upload-url and POST /public/uploads/{uploadId}/confirm (only
// with attach.Options.PublicUpload; 404 otherwise).
//
// # Rate limits
//
// Presign, import and thumbnail routes are limited per workspace and
// user, public upload and public-link misses per client address (see
// RateClass, DefaultRates and Options.RateLimit), answering 429
// rate_limited with Retry-After. The client address is RemoteAddr, or the
// right-most untrusted X-Forwarded-For hop when RemoteAddr is one of
// RateLimitOptions.TrustedProxies. Buckets of idle clients are forgotten,
// so memory stays bounded by RateLimitOptions.MaxKeys.
// Thumbnails (authenticated): GET /files/{id}/thumbnail?w=&h=&fit= answers
// a signed URL of the thumbnail ({url, expiresAt}, served inline by the
// blob endpoint), or null when the file's type has no preview; see
// attach.Service.Thumbnail. Rendering a thumbnail that is not stored yet
// goes through one hook where its rate can be limited; serving a stored
// one does not.
//
// # Browser client
//
// GET {prefix}/attach.js serves BrowserClient, a dependency-free ES module
// on the routes above (see the README's "Browser client"):
//
//	import { Client } from "/v1/attach.js";
//	const file = await new Client({ apiKey }).upload(input.files[0], { onProgress });
//
// # Errors
//
// Every error is {"error": {"code", "message", "details"}} with one HTTP
// status per code, from a single table. Internal errors are logged and
// answered with a generic message.
//
// # Serving bytes
//
// Bytes are served with Content-Disposition: attachment unless the URL was
// signed inline for a safe type, X-Content-Type-Options: nosniff, a
// sandboxing Content-Security-Policy, a strong ETag and Range support built
// on http.ServeContent, with a cap on the number of ranges and
// unsatisfiable ranges (including "bytes=-0") answered 416.
package httpadapter
