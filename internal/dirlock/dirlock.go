// Package dirlock keeps two processes off one data directory.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked reports a directory already locked by another process (or by another
// Lock in this one).
var ErrLocked = errors.New("data dir is in use by another process")

// Lock is an exclusive advisory lock on a directory.
type Lock struct {
	f *os.File
}

// Acquire takes an exclusive lock on dir/LOCK without waiting and records the
// calling process's pid in it, so that the error a second process gets names
// the holder. The kernel drops the lock when the process dies, even by kill -9.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%w (pid %s holds %s)", ErrLocked, pid, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. It is safe to call on a nil Lock.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// Explain wraps an error from creating, probing or locking the data dir dir
// with what a person can do about it.
func Explain(dir string, err error) error {
	switch {
	case errors.Is(err, ErrLocked):
		return fmt.Errorf("data dir %s: %w; stop the other rivet-flow process or pass another --data-dir", dir, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("data dir %s is not writable: %w; fix its permissions or pass another --data-dir", dir, err)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, os.ErrExist):
		return fmt.Errorf("data dir %s: a file is in the way (%w); pass another --data-dir", dir, err)
	}
	return fmt.Errorf("data dir %s cannot be used: %w; pass another --data-dir", dir, err)
}
