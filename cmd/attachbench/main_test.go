package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickConfirm runs the quick profile of the cheapest scenario and
// checks the table, the JSON and the PNG it produces. It asserts no
// timings: benchmarks are measured, not tested.
func TestQuickConfirm(t *testing.T) {
	t.Setenv("ATTACH_S3_URL", "") // local disk only: fast and needing nothing
	dir := t.TempDir()
	jsonPath, chartPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "c.png")
	var out bytes.Buffer
	err := run(context.Background(), []string{"-only", "confirm", "-tmp", dir, "-json", jsonPath, "-chart", chartPath}, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "machine: ")
	assert.Contains(t, out.String(), "peers:")
	assert.Contains(t, out.String(), "confirm local 64MiB vs 10KB")

	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var got bench
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, "quick", got.Profile)
	require.Len(t, got.Results, 2)
	last := got.Results[1]
	assert.Equal(t, "<= 2", last.Target)
	assert.NotNil(t, last.Pass)
	assert.Len(t, last.Samples, 5) // the warm-up round is not recorded
	assert.Greater(t, last.Ratio, 0.0)
	require.Len(t, got.Curves, 1)
	assert.Equal(t, []float64{10_000, 1 << 20, 64 << 20}, got.Curves[0].X)

	f, err := os.Open(chartPath)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, panelW, img.Bounds().Dx())
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown scenario", args: []string{"-only", "lifecycle,nope"}, want: `no scenario "nope"`},
		{name: "stray argument", args: []string{"extra"}, want: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, &bytes.Buffer{})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMedianAndPercentile(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Equal(t, 0.0, median(nil))
}
