package preview

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		w, h, fit string
		allowed   []int
		want      driver.PreviewSpec
		wantErr   bool
	}{
		{name: "square cover", w: "256", h: "256", want: driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitCover, Format: "image/jpeg"}},
		{name: "contain", w: "1024", h: "64", fit: "contain", want: driver.PreviewSpec{Width: 1024, Height: 64, Fit: driver.FitContain, Format: "image/jpeg"}},
		{name: "width only", w: "64", want: driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitCover, Format: "image/jpeg"}},
		{name: "height only", h: "1024", fit: "cover", want: driver.PreviewSpec{Width: 1024, Height: 1024, Fit: driver.FitCover, Format: "image/jpeg"}},
		{name: "own allow-list", w: "100", h: "300", allowed: []int{100, 300}, want: driver.PreviewSpec{Width: 100, Height: 300, Fit: driver.FitCover, Format: "image/jpeg"}},
		{name: "neither", wantErr: true},
		{name: "not allowed", w: "255", h: "256", wantErr: true},
		{name: "not in own list", w: "256", allowed: []int{100}, wantErr: true},
		{name: "leading zero", w: "0256", wantErr: true},
		{name: "zero", w: "0", wantErr: true},
		{name: "sign", w: "+256", wantErr: true},
		{name: "negative", w: "-64", wantErr: true},
		{name: "space", w: " 64", wantErr: true},
		{name: "hex", w: "0x40", wantErr: true},
		{name: "unicode digit", w: "６４", wantErr: true},
		{name: "huge", w: "99999999999999999999999", wantErr: true},
		{name: "float", w: "64.0", wantErr: true},
		{name: "unknown fit", w: "64", fit: "fill", wantErr: true},
		{name: "fit case", w: "64", fit: "Cover", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSpec(tt.w, tt.h, tt.fit, tt.allowed)
			if tt.wantErr {
				require.ErrorIs(t, err, driver.ErrInvalidArgument)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDefaultSizesIsACopy(t *testing.T) {
	t.Parallel()
	s := DefaultSizes()
	s[0] = 5
	assert.Equal(t, []int{64, 256, 1024}, DefaultSizes())
}

// FuzzParseSpec checks that untrusted query values never panic, that
// whatever is accepted is allowed and valid for a Renderer, and that an
// accepted spec reads back the same from its canonical form.
func FuzzParseSpec(f *testing.F) {
	for _, s := range [][3]string{{"64", "64", ""}, {"256", "", "cover"}, {"", "1024", "contain"},
		{"0", "-1", "x"}, {"1e3", "٦٤", "contain\x00"}, {"00064", "65", "COVER"}} {
		f.Add(s[0], s[1], s[2])
	}
	r := New(&Options{DisableTools: true})
	f.Fuzz(func(t *testing.T, w, h, fit string) {
		spec, err := ParseSpec(w, h, fit, nil)
		if err != nil {
			if !assert.ErrorIs(t, err, driver.ErrInvalidArgument) || len(err.Error()) > 300 {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		assert.Contains(t, DefaultSizes(), spec.Width)
		assert.Contains(t, DefaultSizes(), spec.Height)
		_, err = r.checkSpec(spec)
		require.NoError(t, err)
		again, err := ParseSpec(strconv.Itoa(spec.Width), strconv.Itoa(spec.Height), string(spec.Fit), nil)
		require.NoError(t, err)
		assert.Equal(t, spec, again)
	})
}
