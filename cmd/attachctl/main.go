// Attachctl administers an Attachkit deployment: it copies a storage's
// objects to another storage, checks that storage and metadata agree, and
// counts what is stored.
//
// Usage:
//
//	attachctl migrate -from STORAGE_URL -to STORAGE_URL -meta META_URL [-all] [-j N] [-v]
//	attachctl verify -storage STORAGE_URL -meta META_URL [-quick] [-j N]
//	attachctl stats -meta META_URL [-json]
//
// Storages and metadata stores are named by the URLs attach.Open takes:
// file:///var/lib/app/files, mem://, s3://bucket?region=..., gs://bucket,
// azblob://container; sqlite:///var/lib/app/attach.db,
// postgres://user@host/db.
//
// # Migrate
//
// migrate copies every object the metadata references (every version of
// every file, deleted files not yet purged included, and the bytes of
// unconfirmed uploads when they exist) from one storage to another,
// streaming each one and checking its SHA-256 against the recorded digest
// as it goes: an object whose bytes do not match is not written. It is
// resumable: objects already at the destination with the right size and a
// matching MD5 (or, when a storage does not know MD5s, the recorded
// digest) are skipped, so a rerun after an interruption copies only what is
// missing, and a rerun after success copies nothing. With -all it also
// copies the objects no row references. A progress bar is drawn when
// standard output is a terminal; otherwise one line is printed per copied
// or failed object. A summary ends the run.
//
// # Verify
//
// verify reports rows without objects (a version of an undeleted file whose
// object is missing), objects without rows (keys no version or upload
// ticket names), size mismatches and digest mismatches (every object is
// hashed while streaming; -quick checks only existence and sizes).
//
// # Stats
//
// stats prints, by workspace and kind, the number of files, the bytes of
// their current versions, the number of versions and the bytes storage
// holds for all of them.
//
// # Exit status
//
// 0 when the command succeeded (and found no problem), 1 when verify found
// problems or migrate failed to copy an object, 2 for a usage error or when
// the command could not run (an unreachable storage or database).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/attachkit/attachkit/blob" // file, mem, s3, gs, azblob
	"github.com/attachkit/attachkit/driver"
	_ "github.com/attachkit/attachkit/meta/postgres" // postgres, postgresql
	_ "github.com/attachkit/attachkit/meta/sqlite"   // sqlite
)

// Exit statuses.
const (
	exitOK       = 0
	exitProblems = 1
	exitError    = 2
)

const usage = `attachctl administers an Attachkit deployment.

Usage:
  attachctl migrate -from STORAGE_URL -to STORAGE_URL -meta META_URL [-all] [-j N] [-v]
  attachctl verify  -storage STORAGE_URL -meta META_URL [-quick] [-j N]
  attachctl stats   -meta META_URL [-json]

Run "attachctl COMMAND -h" for a command's flags.
Exit status: 0 ok, 1 problems found or objects failed, 2 usage or fatal error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	commands := map[string]func(context.Context, []string, io.Writer, io.Writer) int{
		"migrate": runMigrate,
		"verify":  runVerify,
		"stats":   runStats,
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		cmd, ok := commands[name]
		if !ok {
			fmt.Fprintf(stderr, "attachctl: unknown command %q\n\n%s", name, usage)
			return exitError
		}
		return cmd(ctx, args[1:], stdout, stderr)
	}
}

// newFlags returns a flag set for a command whose usage line is synopsis.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: attachctl %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and checks that every flag in required is set. It
// returns the exit status to stop with, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, required ...string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "attachctl %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitError
	}
	var missing []string
	for _, name := range required {
		if fs.Lookup(name).Value.String() == "" {
			missing = append(missing, "-"+name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "attachctl %s: %s required\n", fs.Name(), strings.Join(missing, ", "))
		fs.Usage()
		return exitError
	}
	return -1
}

// inventory is a metadata store that attachctl can walk a deployment with:
// every file of every workspace, and counts (driver.Inventory).
type inventory interface {
	driver.MetaStore
	driver.Inventory
}

// openMeta opens the metadata store metaURL names.
func openMeta(ctx context.Context, metaURL string) (inventory, error) {
	ms, err := driver.OpenMetaStore(ctx, metaURL)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	inv, ok := ms.(inventory)
	if !ok {
		_ = ms.Close()
		return nil, fmt.Errorf("metadata: the %s store cannot list every file (no WalkFiles and Stats)", schemeOf(metaURL))
	}
	return inv, nil
}

// openStorage opens the storage rawURL names; role names it in errors.
func openStorage(ctx context.Context, role, rawURL string) (driver.Storage, error) {
	st, err := driver.OpenStorage(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s storage: %w", role, err)
	}
	if p, ok := st.(driver.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("%s storage: %w", role, err)
		}
	}
	return st, nil
}

// schemeOf returns the scheme of a URL, for messages that must not repeat
// the URL (it may carry a password).
func schemeOf(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "unknown"
	}
	return scheme
}

// fatal prints err for command name and returns exitError.
func fatal(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "attachctl %s: %v\n", name, err)
	return exitError
}

// versionTotals counts the versions and their bytes, only to size a
// progress bar (zero when the store cannot say).
func versionTotals(ctx context.Context, ms inventory) (n, bytes int64) {
	stats, err := ms.Stats(ctx)
	if err != nil {
		return 0, 0
	}
	for _, s := range stats {
		n += s.Versions
		bytes += s.VersionBytes
	}
	return n, bytes
}

// jobsOK checks a -j flag's value, reporting a bad one on stderr.
func jobsOK(cmd string, jobs int, stderr io.Writer) bool {
	if jobs < 1 || jobs > 64 {
		fmt.Fprintf(stderr, "attachctl %s: -j must be between 1 and 64\n", cmd)
		return false
	}
	return true
}
