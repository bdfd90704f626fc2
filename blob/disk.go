package blob

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// disk is the local-disk side of a Storage made by OpenDir: where the
// files are, and the per-key locks that keep an object and its fileblob
// attribute sidecar consistent while it is being replaced.
type disk struct {
	root    string // absolute
	dirMode fs.FileMode
	// locks serialize, per key stripe, a write's commit (sidecar, rename,
	// fsyncs) and Delete against readers of the same key. fileblob
	// rewrites the sidecar in place, so without them a reader could see a
	// half-written sidecar or one that belongs to another write.
	locks [64]sync.RWMutex
}

func newDisk(root string, dirMode fs.FileMode) *disk {
	return &disk{root: root, dirMode: dirMode}
}

// path returns the file that holds key. Valid keys need no escaping, so
// this is the path fileblob uses too.
func (d *disk) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// lock locks key's stripe for writing and returns the unlock function; it
// is a no-op on a nil disk (storages not on local disk).
func (d *disk) lock(key string) (unlock func()) {
	if d == nil {
		return func() {}
	}
	m := &d.locks[d.stripe(key)]
	m.Lock()
	return m.Unlock
}

// rlock is lock for readers.
func (d *disk) rlock(key string) (unlock func()) {
	if d == nil {
		return func() {}
	}
	m := &d.locks[d.stripe(key)]
	m.RLock()
	return m.RUnlock
}

// stripe hashes key (FNV-1a) onto a lock.
func (d *disk) stripe(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(len(d.locks)))
}

// prepare creates, durably, the directory key's file will live in.
func (d *disk) prepare(key string) error {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return nil
	}
	return mkdirAll(d.path(key[:i]), d.dirMode)
}

// mkdirAll is os.MkdirAll that also fsyncs the parent of every directory
// it creates, so that new directories survive a crash along with the
// files later written into them.
func mkdirAll(dir string, mode fs.FileMode) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAll(parent, mode); err != nil {
			return err
		}
	}
	// EEXIST means a concurrent writer won the race; syncing the parent
	// again is harmless and makes sure the entry is durable before we
	// rely on it.
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncPath(parent)
}

// syncCommitted makes a committed fileblob write durable: the sidecar of
// the final file that tmp was renamed to, and the directory entry of the
// rename. The file's bytes were synced before the rename.
func syncCommitted(tmp string) error {
	// fileblob names the temporary file "<final>.<hex>.tmp".
	final := strings.TrimSuffix(tmp, ".tmp")
	final = final[:strings.LastIndexByte(final, '.')]
	if err := syncPath(final + ".attrs"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncPath(filepath.Dir(tmp))
}

// syncPath fsyncs the file or directory at p. Windows cannot fsync a
// directory; there, directory syncs are skipped.
func syncPath(p string) error {
	if runtime.GOOS == "windows" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// listDisk lists a local-disk storage in lexical key order. fileblob's own
// List walks directories in file-name order, which differs from key order
// when a name sorts before "/" ("a-b" < "a/1"), so Storage walks itself,
// sorting each directory by key with directories as "name/".
func (s *Storage) listDisk(ctx context.Context, prefix string, fn func(driver.ObjectInfo) error) error {
	// Start in the deepest directory the prefix names in full.
	return s.walk(ctx, prefix[:strings.LastIndexByte(prefix, '/')+1], prefix, fn)
}

// walk lists the directory holding the keys that start with dirKey, which
// is "" or ends in "/". Memory grows with the size of one directory per
// level, not with the number of objects.
func (s *Storage) walk(ctx context.Context, dirKey, prefix string, fn func(driver.ObjectInfo) error) error {
	entries, err := os.ReadDir(s.disk.path(dirKey))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return s.wrap(ctx, opList, prefix, err)
	}
	type entry struct {
		key string
		de  fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, de := range entries {
		switch name := de.Name(); {
		case de.IsDir():
			list = append(list, entry{dirKey + name + "/", de})
		case de.Type().IsRegular() && !reservedName(name):
			list = append(list, entry{dirKey + name, de})
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.de.IsDir() {
			if strings.HasPrefix(e.key, prefix) || strings.HasPrefix(prefix, e.key) {
				if err := s.walk(ctx, e.key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		// Skip names that are not valid keys (files Storage did not write).
		if !strings.HasPrefix(e.key, prefix) || keyProblem(e.key) != "" {
			continue
		}
		fi, err := e.de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return s.wrap(ctx, opList, prefix, err)
		}
		if err := fn(driver.ObjectInfo{Key: e.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// SweepTemp removes what writes interrupted by a crash left on local disk:
// temporary files ("<key>.<hex>.tmp") last modified before before. A write
// in progress keeps touching its file, so a cutoff well in the past (the
// janitor uses its orphan grace) never removes one. Other storages have
// nothing to sweep and report 0. It implements driver.TempSweeper.
func (s *Storage) SweepTemp(ctx context.Context, before time.Time) (int, error) {
	if s.disk == nil {
		return 0, nil
	}
	removed := 0
	err := filepath.WalkDir(s.disk.root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, ".tmp") || !reservedName(name) {
			return nil
		}
		fi, err := de.Info()
		if err != nil || !fi.ModTime().Before(before) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, s.wrap(ctx, opList, "", err)
	}
	return removed, nil
}
