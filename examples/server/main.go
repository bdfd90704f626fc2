// Command server is Attachkit's example server: the REST API of API.md on
// the embedded defaults (SQLite + local disk under ./data), with no other
// set-up.
//
//	go run ./examples/server
//
// Environment:
//
//	ATTACH_ADDR      listen address (default 127.0.0.1:8080)
//	ATTACH_DATA_DIR  where the database and files live (default ./data)
//	ATTACH_API_KEYS  "key:workspace,..." (default "dev-key:default")
//	ATTACH_BASE_URL  public origin for signed URLs (default http://ATTACH_ADDR)
//	ATTACH_SECRET    URL signing secret, at least 32 bytes (default: generated
//	                 once and kept in ATTACH_DATA_DIR/secret)
//	ATTACH_STORAGE_URL  where bytes live (default file://ATTACH_DATA_DIR/files);
//	                    also mem://, s3://bucket?region=..., gs://bucket, azblob://container
//	ATTACH_META_URL     where metadata lives (default sqlite://ATTACH_DATA_DIR/attach.db);
//	                    also postgres://user@host/db
//	ATTACH_PUBLIC_UPLOAD    "workspace" or "workspace/col_<id>" enables anonymous
//	                        uploads there (default: disabled)
//	ATTACH_TRUSTED_PROXIES  comma-separated CIDR prefixes of reverse proxies whose
//	                        X-Forwarded-For is believed for rate limits (default: none)
//	ATTACH_CLAMD_ADDR   optional clamd to scan every upload with, tcp://host:port or
//	                    unix:///path/clamd.sock; infected uploads are quarantined
//
// A background worker runs in the server: it scans confirmed uploads (when
// ATTACH_CLAMD_ADDR is set), calls no hooks, and runs the janitor hourly.
//
// It shuts down gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/attachkit/attachkit/attach"
	_ "github.com/attachkit/attachkit/blob" // file, mem, s3, gs, azblob storage URLs
	"github.com/attachkit/attachkit/httpadapter"
	_ "github.com/attachkit/attachkit/meta/postgres" // postgres metadata URLs
	_ "github.com/attachkit/attachkit/meta/sqlite"   // sqlite metadata URLs
	"github.com/attachkit/attachkit/preview"
	"github.com/attachkit/attachkit/scan/clamav"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// config is the server's settings, read from the environment.
type config struct {
	addr       string
	dataDir    string
	keys       map[string]string
	baseURL    string
	secret     string
	storageURL string
	metaURL    string
	// publicUpload enables anonymous uploads (nil: disabled).
	publicUpload *attach.PublicUploadOptions
	proxies      []netip.Prefix
	clamdAddr    string
}

func loadConfig(getenv func(string) string) (*config, error) {
	c := &config{
		addr:    getenv("ATTACH_ADDR"),
		dataDir: getenv("ATTACH_DATA_DIR"),
		baseURL: strings.TrimRight(getenv("ATTACH_BASE_URL"), "/"),
		secret:  getenv("ATTACH_SECRET"),
		keys:    map[string]string{},

		storageURL: getenv("ATTACH_STORAGE_URL"),
		metaURL:    getenv("ATTACH_META_URL"),
		clamdAddr:  getenv("ATTACH_CLAMD_ADDR"),
	}
	if c.addr == "" {
		c.addr = "127.0.0.1:8080"
	}
	if c.dataDir == "" {
		c.dataDir = "data"
	}
	keys := getenv("ATTACH_API_KEYS")
	if keys == "" {
		keys = "dev-key:default"
	}
	for _, pair := range strings.Split(keys, ",") {
		k, ws, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || k == "" || ws == "" {
			return nil, fmt.Errorf("ATTACH_API_KEYS: %q is not key:workspace", pair)
		}
		c.keys[k] = ws
	}
	if c.secret != "" && len(c.secret) < 32 {
		return nil, errors.New("ATTACH_SECRET must be at least 32 bytes")
	}
	if pu := getenv("ATTACH_PUBLIC_UPLOAD"); pu != "" {
		ws, coll, _ := strings.Cut(pu, "/")
		c.publicUpload = &attach.PublicUploadOptions{Workspace: ws, CollectionID: coll}
	}
	for _, p := range strings.Split(getenv("ATTACH_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("ATTACH_TRUSTED_PROXIES: %w", err)
		}
		c.proxies = append(c.proxies, prefix)
	}
	return c, nil
}

// secret returns the signing secret: the configured one, or one generated
// on first start and kept in the data directory.
func (c *config) signingSecret() ([]byte, error) {
	if c.secret != "" {
		return []byte(c.secret), nil
	}
	path := filepath.Join(c.dataDir, "secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	s := []byte(hex.EncodeToString(b))
	if err := os.WriteFile(path, s, 0o600); err != nil {
		return nil, fmt.Errorf("keep signing secret: %w", err)
	}
	return s, nil
}

// run serves until ctx is done. If ready is non-nil it receives the bound
// address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o750); err != nil {
		return err
	}
	secret, err := cfg.signingSecret()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if cfg.baseURL == "" {
		cfg.baseURL = "http://" + addr
	}

	if cfg.storageURL == "" || cfg.metaURL == "" {
		abs, err := filepath.Abs(cfg.dataDir)
		if err != nil {
			return err
		}
		if cfg.storageURL == "" {
			cfg.storageURL = "file://" + filepath.ToSlash(filepath.Join(abs, "files"))
		}
		if cfg.metaURL == "" {
			cfg.metaURL = "sqlite://" + filepath.ToSlash(filepath.Join(abs, "attach.db"))
		}
	}
	logger := slog.New(slog.NewTextHandler(out, nil))
	previewer := preview.New(nil)
	opts := &attach.Options{
		SigningKeys:  []attach.SigningKey{{ID: "k1", Secret: secret}},
		BaseURL:      cfg.baseURL + "/v1/blob",
		PublicUpload: cfg.publicUpload,
		Logger:       logger,
		// Thumbnails of images, and of PDFs and videos when pdftoppm and
		// ffmpeg are installed.
		Previewer: previewer,
	}
	if cfg.clamdAddr != "" {
		opts.Scanner = clamav.New(cfg.clamdAddr, nil) // uploads are processing until scanned
	}
	svc, err := attach.Open(ctx, cfg.storageURL, cfg.metaURL, opts)
	if err != nil {
		return err
	}
	defer svc.Close()
	// The background worker: scans, hooks and the janitor. It stops with
	// wctx, after the HTTP server, and before the Service closes.
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan error, 1)
	go func() { workerDone <- attach.NewWorker(svc, nil).Run(wctx) }()
	defer func() {
		stopWorker()
		<-workerDone
	}()
	// Imports from URLs run in the background; shutdown waits for them.
	importer, err := attach.NewImporter(svc, nil)
	if err != nil {
		return err
	}
	api, err := httpadapter.New(svc, &httpadapter.Options{
		Prefix:       "/v1",
		Authenticate: httpadapter.BearerKeys(cfg.keys),
		Importer:     importer,
		Logger:       logger,
		RateLimit:    &httpadapter.RateLimitOptions{TrustedProxies: cfg.proxies},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/", pageHandler()) // the upload page, on the public API

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	keys := make([]string, 0, len(cfg.keys))
	for k, ws := range cfg.keys {
		keys = append(keys, k+" (workspace "+ws+")")
	}
	sort.Strings(keys)
	fmt.Fprintf(out, "Attachkit example server on %s/v1\n  upload page: %s/\n  storage: %s\n  metadata: %s\n  API keys: %s\n  thumbnails: %s\n",
		cfg.baseURL, cfg.baseURL, redact(cfg.storageURL), redact(cfg.metaURL), strings.Join(keys, ", "),
		strings.Join(previewer.Capabilities(), ", "))
	if cfg.clamdAddr != "" {
		fmt.Fprintf(out, "  virus scanning: %s\n", cfg.clamdAddr)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := importer.Shutdown(sctx); err != nil {
		importer.Close() // cancel what did not finish in time
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// redact hides a URL's password before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
