package preview_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/preview"
)

func ExampleParseSpec() {
	// Query values of GET /files/{id}/thumbnail?w=256&h=64&fit=contain.
	spec, err := preview.ParseSpec("256", "64", "contain", nil)
	fmt.Println(spec, err)

	_, err = preview.ParseSpec("100", "", "", nil) // not an allowed size
	fmt.Println(errors.Is(err, driver.ErrInvalidArgument))
	// Output:
	// {256 64 contain image/jpeg} <nil>
	// true
}

func ExampleRenderer_Preview() {
	// A 1200×800 PNG, as an upload would be.
	src := image.NewRGBA(image.Rect(0, 0, 1200, 800))
	for i := range src.Pix {
		src.Pix[i] = 0xc0
	}
	var upload bytes.Buffer
	_ = png.Encode(&upload, src)

	r := preview.New(nil)
	spec, _ := preview.ParseSpec("256", "", "contain", nil)
	var thumb bytes.Buffer
	err := r.Preview(context.Background(), bytes.NewReader(upload.Bytes()), int64(upload.Len()), "image/png", spec, &thumb)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, format, _ := image.DecodeConfig(&thumb)
	fmt.Println(format, cfg.Width, cfg.Height)

	// Types without a thumbnailer answer ErrNoPreview: the caller shows none.
	err = r.Preview(context.Background(), bytes.NewReader(nil), 0, "image/svg+xml", spec, io.Discard)
	fmt.Println(errors.Is(err, driver.ErrNoPreview))
	// Output:
	// jpeg 256 171
	// true
}
