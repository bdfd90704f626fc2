package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"slices"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The chart is drawn by hand with image/png and basicfont: three small
// panels of lines over a logarithmic x axis need about 200 lines, and
// golang.org/x/image is already a dependency, where a plotting library
// (gonum/plot) would bring a font stack and a dozen modules into go.mod.

const (
	panelW, panelH = 620, 420
	marginL        = 70
	marginR        = 20
	marginT        = 40
	marginB        = 120 // axis labels and the legend
)

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255},
}

type panel struct {
	key, title, xLabel, yLabel string
	xFormat                    func(float64) string
}

var panels = []panel{
	{"list", "List page latency vs workspace size (SQLite)", "files in the workspace", "microseconds per page", func(v float64) string { return countLabel(v) }},
	{"confirm", "Confirm time vs object size", "object size", "ms per confirm", func(v float64) string { return sizeName(int64(v)) }},
	{"throughput", "Throughput vs clients (10 KB files)", "concurrent clients", "operations/s", func(v float64) string { return fmt.Sprint(v) }},
}

func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprint(v)
}

// drawChart writes the panels that have curves side by side as a PNG.
func drawChart(path string, b *bench) error {
	var use []panel
	for _, p := range panels {
		if slices.ContainsFunc(b.Curves, func(c *Curve) bool { return c.Panel == p.key }) {
			use = append(use, p)
		}
	}
	w := max(1, len(use)) * panelW
	img := image.NewRGBA(image.Rect(0, 0, w, panelH+24))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 8, 16, fmt.Sprintf("attachbench %s profile, %s, %d cores, %s", b.Profile, b.Machine.CPU, b.Machine.Cores, b.Machine.Go), color.Black)
	if len(use) == 0 {
		text(img, 8, 40, "no scaling curves in this run", color.Black)
	}
	for i, p := range use {
		var cs []*Curve
		for _, c := range b.Curves {
			if c.Panel == p.key {
				cs = append(cs, c)
			}
		}
		drawPanel(img, image.Rect(i*panelW, 24, (i+1)*panelW, panelH+24), p, cs)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func drawPanel(img *image.RGBA, r image.Rectangle, p panel, cs []*Curve) {
	plot := image.Rect(r.Min.X+marginL, r.Min.Y+marginT, r.Max.X-marginR, r.Max.Y-marginB)
	text(img, r.Min.X+marginL, r.Min.Y+14, p.title, color.Black)
	var xs []float64
	ymax := 0.0
	for _, c := range cs {
		xs = append(xs, c.X...)
		for _, y := range c.Y {
			ymax = max(ymax, y)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	xmin, xmax := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if xmax == xmin {
		xmin, xmax = xmin-0.5, xmax+0.5
	}
	step := niceStep(ymax / 5)
	ytop := math.Ceil(ymax/step) * step
	if ytop == 0 {
		ytop = 1
	}
	px := func(x float64) int {
		pad := 0.05 * (xmax - xmin)
		return plot.Min.X + int((math.Log10(x)-xmin+pad)/(xmax-xmin+2*pad)*float64(plot.Dx()))
	}
	py := func(y float64) int { return plot.Max.Y - int(y/ytop*float64(plot.Dy())) }
	grid := color.RGBA{225, 225, 225, 255}
	for y := 0.0; y <= ytop+step/2; y += step {
		line(img, plot.Min.X, py(y), plot.Max.X, py(y), grid, 1)
		label := strconv.FormatFloat(y, 'g', 4, 64)
		text(img, plot.Min.X-8-7*len(label), py(y)+4, label, color.Black)
	}
	for _, x := range xs {
		line(img, px(x), plot.Min.Y, px(x), plot.Max.Y, grid, 1)
		label := p.xFormat(x)
		text(img, px(x)-7*len(label)/2, plot.Max.Y+16, label, color.Black)
	}
	black := color.RGBA{0, 0, 0, 255}
	line(img, plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y, black, 1)
	line(img, plot.Min.X, plot.Min.Y, plot.Min.X, plot.Max.Y, black, 1)
	text(img, plot.Min.X+plot.Dx()/2-7*len(p.xLabel)/2, plot.Max.Y+34, p.xLabel+" (log scale)", color.Black)
	text(img, plot.Min.X-marginL+8, plot.Min.Y-10, p.yLabel, color.RGBA{90, 90, 90, 255})
	for i, c := range cs {
		col := palette[i%len(palette)]
		order := make([]int, len(c.X))
		for j := range order {
			order[j] = j
		}
		slices.SortFunc(order, func(a, b int) int { return int(math.Copysign(1, c.X[a]-c.X[b])) })
		for k, j := range order {
			x, y := px(c.X[j]), py(c.Y[j])
			fill(img, image.Rect(x-3, y-3, x+4, y+4), col)
			if k > 0 {
				prev := order[k-1]
				line(img, px(c.X[prev]), py(c.Y[prev]), x, y, col, 2)
			}
		}
		ly := plot.Max.Y + 52 + 14*i
		fill(img, image.Rect(plot.Min.X, ly-8, plot.Min.X+14, ly-2), col)
		text(img, plot.Min.X+20, ly, c.Name, color.Black)
	}
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// line draws a line of the given width (Bresenham, square pen).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, width int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		for i := range width {
			for j := range width {
				img.SetRGBA(x0+i-width/2, y0+j-width/2, c)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
