//go:build unix

package embedded

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// storeLock is a held fundtrace.lock.
type storeLock struct {
	f      *os.File
	writer bool
}

// lock takes the store's lock file: shared for a reader, exclusive for a
// writer, without waiting. A refused process names the holders (from
// /proc/locks where the system has it; else the PID and command line a
// writer wrote into the file).
func lock(path string, readOnly bool) (*storeLock, error) {
	p := filepath.Join(path, lockName)
	flags := os.O_RDWR | os.O_CREATE
	if readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(p, flags, 0o644)
	if errors.Is(err, os.ErrNotExist) && readOnly {
		// A store written by an earlier fundtrace, or on read-only
		// media: no writer of this version holds it.
		return &storeLock{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store lock %s: %w", p, err)
	}
	how := syscall.LOCK_EX
	if readOnly {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUse(path, holders(f, p), readOnly)
		}
		return nil, fmt.Errorf("store lock %s: %w", p, err)
	}
	if !readOnly {
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(self()+"\n"), 0)
		}
	}
	return &storeLock{f: f, writer: !readOnly}, nil
}

// holders names the processes holding f's lock: "PID N (COMMAND)", and
// so on for each.
func holders(f *os.File, p string) string {
	var who []string
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			who = lockHolders(st.Ino)
		}
	}
	if len(who) == 0 {
		return holder(filepath.Dir(p))
	}
	return strings.Join(who, ", ")
}

// lockHolders reads Linux's /proc/locks for the processes holding a
// flock on the inode ino.
func lockHolders(ino uint64) []string {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 00:2e:123456 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[1] != "FLOCK" {
			continue
		}
		parts := strings.Split(fs[5], ":")
		if n, err := strconv.ParseUint(parts[len(parts)-1], 10, 64); err != nil || n != ino {
			continue
		}
		pid, err := strconv.Atoi(fs[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("PID %d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))))
	}
	return out
}

func (l *storeLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.writer {
		l.f.Truncate(0)
	}
	return l.f.Close() // closing the descriptor releases the lock
}
