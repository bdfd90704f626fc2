package httpadapter

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzMultipartUpload: a multipart/form-data body is the client's bytes.
// Whatever they are, POST /files answers with one of the API's statuses
// for bad input, never 500, and a 201 names a file that can be read back.
func FuzzMultipartUpload(f *testing.F) {
	const boundary = "BOUNDARY"
	part := func(headers, body string) string {
		return "--" + boundary + "\r\n" + headers + "\r\n\r\n" + body + "\r\n"
	}
	end := "--" + boundary + "--\r\n"
	seeds := []string{
		part(`Content-Disposition: form-data; name="file"; filename="a.txt"`+"\r\nContent-Type: text/plain", "hello") + end,
		part(`Content-Disposition: form-data; name="fileName"`, "b.txt") +
			part(`Content-Disposition: form-data; name="tags"`, "x,y") +
			part(`Content-Disposition: form-data; name="content"; filename="b.txt"`, "hi there") + end,
		part(`Content-Disposition: form-data; name="file"; filename="a.txt"`, "one") +
			part(`Content-Disposition: form-data; name="file"; filename="b.txt"`, "two") + end,
		part(`Content-Disposition: form-data; name="file"; filename="../../etc/passwd"`, "x") + end,
		part(`Content-Disposition: form-data; name="file"; filename="a.png"`+"\r\nContent-Type: image/png", "<html>") + end,
		part(`Content-Disposition: form-data; name="file"; filename*=UTF-8''%E2%82%AC.txt`, "euro") + end,
		part(`Content-Disposition: form-data; name="file"`, "") + end,
		"--" + boundary + "\r\n", "", end, "garbage",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := e.as(keyA, "")
		h := map[string]string{"Authorization": "Bearer " + keyA, "Content-Type": "multipart/form-data; boundary=" + boundary}
		r := e.fetch(t, http.MethodPost, e.srv.URL+"/v1/files", h, bytes.NewReader(body))
		switch r.Status {
		case http.StatusCreated:
			id, _ := r.JSON(t)["id"].(string)
			require.NotEmpty(t, id)
			got := c.do(t, http.MethodGet, "/files/"+id, nil)
			require.Equal(t, http.StatusOK, got.Status, "a created file reads back: %s", got.Body)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			code, _ := r.JSON(t)["error"].(map[string]any)["code"].(string)
			require.NotEmpty(t, code, "an error body names its code: %s", r.Body)
		default:
			t.Fatalf("status %d for a client's body: %s", r.Status, r.Body)
		}
	})
}
