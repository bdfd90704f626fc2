package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/attachkit/attachkit/meta"
)

// statJSON is one line of stats -json.
type statJSON struct {
	Workspace    string `json:"workspace"`
	Kind         string `json:"kind"`
	Files        int64  `json:"files"`
	Bytes        int64  `json:"bytes"`
	Versions     int64  `json:"versions"`
	VersionBytes int64  `json:"versionBytes"`
}

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("stats", "-meta META_URL [-json]", stderr)
	metaURL := fs.String("meta", "", "metadata `URL` of the deployment")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if code := parseFlags(fs, args, stderr, "meta"); code >= 0 {
		return code
	}
	ms, err := openMeta(ctx, *metaURL)
	if err != nil {
		return fatal(stderr, "stats", err)
	}
	defer ms.Close()
	stats, err := ms.Stats(ctx)
	if err != nil {
		return fatal(stderr, "stats", err)
	}
	if *asJSON {
		out := make([]statJSON, len(stats))
		for i, s := range stats {
			out[i] = statJSON(s)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fatal(stderr, "stats", err)
		}
		return exitOK
	}
	printStats(stdout, stats)
	return exitOK
}

// printStats prints stats as a table with a total line.
func printStats(w io.Writer, stats []meta.Stat) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tKIND\tFILES\tSIZE\tVERSIONS\tSTORED")
	var total meta.Stat
	for _, s := range stats {
		kind := s.Kind
		if kind == "" {
			kind = "(none yet)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", s.Workspace, kind, s.Files, humanBytes(s.Bytes), s.Versions, humanBytes(s.VersionBytes))
		total.Files += s.Files
		total.Bytes += s.Bytes
		total.Versions += s.Versions
		total.VersionBytes += s.VersionBytes
	}
	fmt.Fprintf(tw, "total\t\t%d\t%s\t%d\t%s\n", total.Files, humanBytes(total.Bytes), total.Versions, humanBytes(total.VersionBytes))
	_ = tw.Flush()
}
