package reload

import (
	"os"
	"syscall"
	"time"
)

// fileStat identifies a version of a file without reading it. The inode
// catches a file replaced by rename (editors, Kubernetes config maps) even
// when size and time happen to agree.
type fileStat struct {
	size  int64
	mtime time.Time
	ino   uint64
	dev   uint64
}

func statFile(path string) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	st := fileStat{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev = uint64(sys.Ino), uint64(sys.Dev)
	}
	return st, nil
}
