package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/attachkit/attachkit/internal/benchkit"
)

// runPocketBase compares 10 KB multipart uploads to Attachkit's POST
// /files with PocketBase's record create on a collection with a file
// field (create rule open to anyone, so PocketBase does no auth work per
// request), both on loopback with keep-alive and 8 clients, in
// alternating windows.
func runPocketBase(ctx context.Context, b *bench) error {
	if b.peers.PocketBase == "" {
		return skipError{"ATTACH_POCKETBASE is not set (go install github.com/pocketbase/pocketbase/examples/base@v0.36.8)"}
	}
	pb, err := startPocketBase(ctx, b.peers.PocketBase, filepath.Join(b.dir, "pocketbase"))
	if err != nil {
		return fmt.Errorf("PocketBase: %w", err)
	}
	defer pb.stop()
	e, err := newEnv(ctx, filepath.Join(b.dir, "multipart"), "")
	if err != nil {
		return err
	}
	defer e.Close()
	data := benchkit.PDFBytes(10_000)
	body, ctype := multipartBody("file", data)
	ours := func() error {
		return e.call(http.MethodPost, "/files", ctype, bytes.NewReader(body), http.StatusCreated, nil)
	}
	theirs := func() error {
		resp, err := e.client.Post(pb.url+"/api/collections/docs/records", ctype, bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PocketBase create: %s: %s", resp.Status, msg)
		}
		return nil
	}
	window := time.Duration(b.profile(500, 2000)) * time.Millisecond
	const clients = 8
	as, bs, err := alternate(b.profile(5, 9),
		func() (float64, error) { return throughput(clients, window, ours) },
		func() (float64, error) { return throughput(clients, window, theirs) })
	if err != nil {
		return err
	}
	b.add(&Result{Scenario: "multipart upload 10KB, 8 clients", Unit: "req/s", Samples: as, BSamples: bs,
		Versus: "PocketBase " + pb.version, Target: ">= 2"})
	return nil
}

type pocketBase struct {
	cmd     *exec.Cmd
	url     string
	version string
}

// startPocketBase runs the binary with all its directories in dir, creates
// a superuser with `superuser upsert`, and through the API a collection
// "docs" with a file field.
func startPocketBase(ctx context.Context, bin, dir string) (*pocketBase, error) {
	dirs := []string{"--dir", filepath.Join(dir, "data"), "--migrationsDir", filepath.Join(dir, "migrations"),
		"--hooksDir", filepath.Join(dir, "hooks"), "--publicDir", filepath.Join(dir, "public")}
	for i := 1; i < len(dirs); i += 2 {
		if err := os.MkdirAll(dirs[i], 0o750); err != nil {
			return nil, err
		}
	}
	pb := &pocketBase{version: "?"}
	if info, err := buildinfo.ReadFile(bin); err == nil {
		for _, d := range info.Deps {
			if d.Path == "github.com/pocketbase/pocketbase" {
				pb.version = d.Version
			}
		}
	}
	const email, password = "bench@example.com", "bench-password-123"
	if out, err := exec.CommandContext(ctx, bin, append([]string{"superuser", "upsert", email, password}, dirs...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("superuser upsert: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	log, err := os.Create(filepath.Join(dir, "pocketbase.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	pb.cmd = exec.Command(bin, append([]string{"serve", "--http", addr}, dirs...)...)
	pb.cmd.Stdout, pb.cmd.Stderr = log, log
	if err := pb.cmd.Start(); err != nil {
		return nil, err
	}
	pb.url = "http://" + addr
	if err := pb.setup(email, password); err != nil {
		pb.stop()
		tail, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("%w (log: %s)", err, tail)
	}
	return pb, nil
}

func (pb *pocketBase) setup(email, password string) error {
	for i := 0; ; i++ {
		resp, err := http.Get(pb.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 300 {
			return fmt.Errorf("no answer on %s", pb.url)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var auth struct{ Token string }
	if err := pb.post("/api/collections/_superusers/auth-with-password", "",
		map[string]string{"identity": email, "password": password}, &auth); err != nil {
		return err
	}
	return pb.post("/api/collections", auth.Token, map[string]any{
		"name": "docs", "type": "base", "createRule": "",
		"fields": []map[string]any{{"name": "file", "type": "file", "maxSelect": 1, "maxSize": 10 << 20}},
	}, nil)
}

func (pb *pocketBase) post(path, token string, body, v any) error {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, pb.url+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
	}
	if v != nil {
		return json.Unmarshal(msg, v)
	}
	return nil
}

func (pb *pocketBase) stop() {
	if pb.cmd != nil && pb.cmd.Process != nil {
		pb.cmd.Process.Kill()
		pb.cmd.Wait()
	}
}
