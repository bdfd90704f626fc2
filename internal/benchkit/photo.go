package benchkit

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// PhotoJPEG returns a w×h photo-like JPEG (gradients, waves and noise;
// quality 90, 4:2:0), the same picture preview's tests draw.
func PhotoJPEG(w, h int) ([]byte, error) {
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
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
