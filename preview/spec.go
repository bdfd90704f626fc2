package preview

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/attachkit/attachkit/driver"
)

// DefaultSizes returns the preview sizes ParseSpec allows when given none:
// 64, 256 and 1024 pixels. The slice is the caller's to change.
func DefaultSizes() []int { return []int{64, 256, 1024} }

// maxSizeDigits bounds the text of a size before it is parsed.
const maxSizeDigits = 5

// ParseSpec validates untrusted preview parameters (the w, h and fit query
// values of a thumbnail request) and returns the spec they ask for.
//
// Width and height are decimal numbers without sign or leading zeros that
// must be in allowed (nil or empty means DefaultSizes). One of them may be
// empty, meaning a square box; both may not. An empty fit means
// driver.FitCover, otherwise it is "cover" or "contain". The Format of the
// result is "image/jpeg"; callers wanting PNG set it. Anything else is an
// error matching driver.ErrInvalidArgument.
func ParseSpec(width, height, fit string, allowed []int) (driver.PreviewSpec, error) {
	if len(allowed) == 0 {
		allowed = DefaultSizes()
	}
	if width == "" && height == "" {
		return driver.PreviewSpec{}, fmt.Errorf("%w: preview: a width or a height is required", driver.ErrInvalidArgument)
	}
	if width == "" {
		width = height
	}
	if height == "" {
		height = width
	}
	w, err := parseSize("width", width, allowed)
	if err != nil {
		return driver.PreviewSpec{}, err
	}
	h, err := parseSize("height", height, allowed)
	if err != nil {
		return driver.PreviewSpec{}, err
	}
	spec := driver.PreviewSpec{Width: w, Height: h, Fit: driver.FitCover, Format: "image/jpeg"}
	switch fit {
	case "", string(driver.FitCover):
	case string(driver.FitContain):
		spec.Fit = driver.FitContain
	default:
		return driver.PreviewSpec{}, fmt.Errorf("%w: preview: fit %q is not cover or contain", driver.ErrInvalidArgument, clip(fit))
	}
	return spec, nil
}

// parseSize parses one size and checks it against the allow-list.
func parseSize(what, s string, allowed []int) (int, error) {
	ok := len(s) > 0 && len(s) <= maxSizeDigits && s[0] != '0'
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	if !ok {
		return 0, fmt.Errorf("%w: preview: %s %q is not a size", driver.ErrInvalidArgument, what, clip(s))
	}
	n, err := strconv.Atoi(s)
	if err != nil || !slices.Contains(allowed, n) {
		return 0, fmt.Errorf("%w: preview: %s %s is not one of the allowed sizes %v", driver.ErrInvalidArgument, what, s, allowed)
	}
	return n, nil
}
