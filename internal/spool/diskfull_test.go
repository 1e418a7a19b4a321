package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"portico/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size bytes in a new directory, as a small
// disk that fills up.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "tmpfs", fmt.Sprintf("mounting a tmpfs needs root: %v: %s", err, out))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestDiskFull fills the spool's file system while the store is down.
// Batches whose Write failed are the events the pipeline counts as
// dropped: none of them may reach the store, even when the disk took part
// of the batch, and every batch that was accepted must. Once the store is
// back and has taken the spool, the space is free again and writes
// succeed.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 64<<10)
	st := newStore(t)
	st.down.Store(true)
	sp := open(t, dir, st, Config{})
	defer sp.Close()

	accepted, failed := 0, 0
	// Batches of 7 events do not divide the file system's pages: the
	// batch that meets the end of the space is written in part.
	for i := 0; failed < 5*7; i++ {
		if i > 10000 {
			t.Fatal("the spool never filled its 64 KiB file system")
		}
		err := sp.Write(context.Background(), batch(7, fmt.Sprint("a", i)))
		switch {
		case err == nil:
			accepted += 7
		case errors.Is(err, syscall.ENOSPC):
			failed += 7
		default:
			t.Fatalf("write %d: %v, want nil or ENOSPC", i, err)
		}
	}
	st.down.Store(false)
	eventually(t, "the spool committed and its full segment deleted", func() bool {
		return sp.Stats().PendingBytes == 0 && len(segments(t, dir)) == 1
	})
	if n, d := count(t, st); n != accepted || d != n {
		t.Errorf("the store has %d events (%d distinct); %d were accepted, %d refused: want exactly the accepted ones", n, d, accepted, failed)
	}
	if c := sp.Stats().Corrupt; c != 0 {
		t.Errorf("%d spooled lines could not be read back: a refused batch left part of itself", c)
	}

	// The committed segments are gone: there is room again.
	for i := range 5 {
		if err := sp.Write(context.Background(), batch(7, fmt.Sprint("b", i))); err != nil {
			t.Fatalf("write %d after the store took the spool: %v", i, err)
		}
		accepted += 7
	}
	eventually(t, "the later events in the store", func() bool { n, _ := count(t, st); return n == accepted })
}
