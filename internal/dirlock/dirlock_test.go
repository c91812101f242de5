package dirlock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestAcquireRelease(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second acquire: %v, want ErrLocked naming our pid", err)
	}
	l.Release()
	l.Release() // idempotent
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

func TestAcquireMissingDir(t *testing.T) {
	if _, err := Acquire(t.TempDir() + "/missing"); err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("acquire in a missing dir: %v", err)
	}
}
