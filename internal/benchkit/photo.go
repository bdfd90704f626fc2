package benchkit

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Photo returns a w×h image with gradients, waves and noise: compressed,
// it costs a decoder about what a photograph does.
func Photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			n := uint8(rnd.IntN(24))
			v := math.Sin(float64(x)/97) * math.Cos(float64(y)/53)
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x*255/w)/2 + n
			img.Pix[i+1] = uint8(y*255/h)/2 + n
			img.Pix[i+2] = uint8(128 + 100*v)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// PhotoJPEG returns Photo(w, h) as a JPEG (quality 90, 4:2:0).
func PhotoJPEG(w, h int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Photo(w, h), &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
