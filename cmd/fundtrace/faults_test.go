package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fundtrace/fundtrace/ingest/btc"
	"github.com/fundtrace/fundtrace/store/embedded"
)

// child runs the fundtrace command as a separate process (this test
// binary, see TestMain) and returns its output and exit status.
func child(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "FUNDTRACE_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// noStackTrace fails the test when a command's output holds a Go panic
// or stack trace.
func noStackTrace(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") || strings.Contains(out, ".go:") {
		t.Fatalf("%s: a stack trace reached the user:\n%s", what, out)
	}
}

func listing(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		fi, _ := e.Info()
		names = append(names, e.Name()+":"+string(rune('0'+fi.Size()%10)))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// simStore indexes the shipped scenario into a new store and returns it.
func simStore(t *testing.T) string {
	t.Helper()
	st := filepath.Join(t.TempDir(), "store")
	if _, _, err := run(t, "--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks"); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestFaultMissingMarker: a store whose marker.manifest.* was deleted is
// refused by every command, with the reason; no command creates a store
// over it or removes a file in it (before, the next screen started an
// empty store and deleted the old tables).
func TestFaultMissingMarker(t *testing.T) {
	st := simStore(t)
	markers, _ := filepath.Glob(filepath.Join(st, "marker.manifest.*"))
	if len(markers) != 1 {
		t.Fatalf("markers %v", markers)
	}
	os.Remove(markers[0])
	before := listing(t, st)
	for _, args := range [][]string{{"status"}, {"screen", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}, {"index", "btc", "--blocks", "../../testdata/sim/btc/blocks"},
		{"labels", "import", "../../testdata/sim/btc/labels.csv"}, {"cluster"}} {
		out, code := child(t, append([]string{"--store", st}, args...)...)
		noStackTrace(t, args[0], out)
		if code != 1 || !strings.Contains(out, "marker.manifest") || !strings.Contains(out, "refusing") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	if after := listing(t, st); after != before {
		t.Fatalf("the folder changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestFaultReadOnly: read commands open the store read-only: they never
// create one, and they work on read-only media (a read-only bind mount).
func TestFaultReadOnly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	if out, code := child(t, "--store", missing, "status"); code != 1 || !strings.Contains(out, "no store at") {
		t.Fatalf("status on a missing store: %d %s", code, out)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a read command created the store folder")
	}
	st := simStore(t)
	runEach(t, st, []string{"labels", "import", "../../testdata/sim/btc/labels.csv"})
	ro := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(ro, 0o755)
	if err := exec.Command("mount", "--bind", st, ro).Run(); err != nil {
		t.Skipf("no bind mount here (%v): read-only media untested", err)
	}
	defer exec.Command("umount", ro).Run()
	if err := exec.Command("mount", "-o", "remount,ro,bind", ro).Run(); err != nil {
		t.Skipf("no read-only remount here (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o644); err == nil {
		t.Fatal("the read-only mount is writable")
	}
	for _, args := range [][]string{{"status"}, {"show", "block", "100"}, {"labels", "export", "--out", filepath.Join(t.TempDir(), "l.csv")},
		{"store", "check"}, {"trace", "--case", "../../testdata/sim/btc/case.csv", "--out", filepath.Join(t.TempDir(), "t.json")}} {
		out, code := child(t, append([]string{"--store", ro}, args...)...)
		noStackTrace(t, args[0], out)
		if code != 0 {
			t.Errorf("%v on read-only media: exit %d\n%s", args, code, out)
		}
	}
	if out, code := child(t, "--store", ro, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks"); code != 1 || !strings.Contains(out, "read-only") {
		t.Errorf("index into read-only media: exit %d\n%s", code, out)
	}
}

// TestFaultInUse: a store held by a writer is refused to another
// process with the holder's PID and command line.
func TestFaultInUse(t *testing.T) {
	st := simStore(t)
	w, err := embedded.Open(st, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, args := range [][]string{{"status"}, {"index", "btc", "--blocks", "../../testdata/sim/btc/blocks"}} {
		out, code := child(t, append([]string{"--store", st}, args...)...)
		noStackTrace(t, args[0], out)
		if code != 1 || !strings.Contains(out, "store in use by PID "+strconv.Itoa(os.Getpid())) || !strings.Contains(out, filepath.Base(os.Args[0])) {
			t.Errorf("%v while held: exit %d\n%s", args, code, out)
		}
	}
	w.Close()
	// A reader does not keep out another reader, and is named to a writer.
	r, err := embedded.Open(st, embedded.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if out, code := child(t, "--store", st, "status"); code != 0 {
		t.Errorf("status beside a reader: %d\n%s", code, out)
	}
	if out, code := child(t, "--store", st, "cluster"); code != 1 || !strings.Contains(out, "store in use by") {
		t.Errorf("cluster beside a reader: %d\n%s", code, out)
	}
}

// TestFaultChecksum: a flipped byte in a table file and in the
// transaction file is an error naming the file for every command that
// reads it, never a stack trace; store check finds both.
func TestFaultChecksum(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	st, err := embedded.Open(dir, embedded.Options{IngestBytes: 1}) // written as table files
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btc.Index(ctx, st, btc.IndexConfig{Dir: "../../testdata/sim/btc/blocks"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	runEach(t, dir, []string{"labels", "import", "../../testdata/sim/btc/labels.csv"})
	if out, code := child(t, "--store", dir, "store", "check"); code != 0 || !strings.Contains(out, "whole") {
		t.Fatalf("store check of a whole store: %d\n%s", code, out)
	}
	flip := func(p string, at float64) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[int(float64(len(b))*at)] ^= 0xff
		os.WriteFile(p, b, 0o644)
	}
	t.Run("table", func(t *testing.T) {
		c := filepath.Join(t.TempDir(), "copy")
		copyDir(t, dir, c)
		ssts, _ := filepath.Glob(filepath.Join(c, "*.sst"))
		if len(ssts) == 0 {
			t.Fatal("no table file")
		}
		// A byte of every 4 KiB block: whatever a command reads first
		// is damaged.
		for _, p := range ssts {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1000; i < len(b); i += 2048 {
				b[i] ^= 0xff
			}
			os.WriteFile(p, b, 0o644)
		}
		for _, args := range [][]string{{"store", "check"}, {"cluster"}, {"trace", "--case", "../../testdata/sim/btc/case.csv", "--out", filepath.Join(t.TempDir(), "t.json")}, {"status"}} {
			out, code := child(t, append([]string{"--store", c}, args...)...)
			noStackTrace(t, args[0], out)
			if code != 1 || !strings.Contains(out, ".sst") || !strings.Contains(out, "damaged") {
				t.Errorf("%v: exit %d\n%s", args, code, out)
			}
		}
	})
	t.Run("transactions", func(t *testing.T) {
		c := filepath.Join(t.TempDir(), "copy")
		copyDir(t, dir, c)
		flip(filepath.Join(c, "txs-btc.dat"), 0.5)
		for _, args := range [][]string{{"store", "check"}, {"cluster"}} {
			out, code := child(t, append([]string{"--store", c}, args...)...)
			noStackTrace(t, args[0], out)
			if code != 1 || !strings.Contains(out, "txs-btc.dat") || !strings.Contains(out, "checksum") {
				t.Errorf("%v: exit %d\n%s", args, code, out)
			}
		}
	})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// TestFaultDiskFull: indexing into a store on a full file system (a 1 MB
// tmpfs) ends with a one-line error and exit 1, never a stack trace, and
// the store opens afterwards; on a larger file system the same index
// completes from where it stopped.
func TestFaultDiskFull(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "small")
	os.Mkdir(mnt, 0o755)
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("no tmpfs mount here (%v): full disk untested", err)
	}
	defer exec.Command("umount", mnt).Run()
	st := filepath.Join(mnt, "store")
	out, code := child(t, "--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks")
	noStackTrace(t, "index on a full disk", out)
	if code != 1 || !strings.Contains(out, "no space left on device") {
		t.Fatalf("index on a full disk: exit %d\n%s", code, out)
	}
	if out, code := child(t, "--store", st, "status"); code != 0 {
		t.Fatalf("status after a full disk: exit %d\n%s", code, out)
	}
	// Room again: the index resumes and completes.
	if err := exec.Command("mount", "-o", "remount,size=64m", mnt).Run(); err != nil {
		t.Fatal(err)
	}
	if out, code := child(t, "--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks"); code != 0 {
		t.Fatalf("index after room was made: exit %d\n%s", code, out)
	}
	out, _ = child(t, "--store", st, "status")
	if !strings.Contains(out, " 302 ") {
		t.Fatalf("status after the resumed index:\n%s", out)
	}
}

// TestBadFlagsAndInputs: numeric flags out of range, a case file with a
// time that is not one, and freeze into a folder that is not empty are
// each refused with the reason, before anything is done.
func TestBadFlagsAndInputs(t *testing.T) {
	st := filepath.Join(t.TempDir(), "store")
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"simulate", "btc", "--out", t.TempDir(), "--scale", "0"}, "--scale 0: want 1 to"},
		{[]string{"simulate", "btc", "--out", t.TempDir(), "--days", "-3"}, "--days -3: want 1 to"},
		{[]string{"simulate", "eth", "--out", t.TempDir(), "--scale", "-1"}, "--scale -1"},
		{[]string{"--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks", "--batch-blocks", "0"}, "--batch-blocks 0"},
		{[]string{"--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks", "--to", "-5"}, "--to -5"},
		{[]string{"--store", st, "index", "btc", "--blocks", "../../testdata/sim/btc/blocks", "--max-reorg", "-1"}, "--max-reorg -1"},
		{[]string{"--store", st, "screen", "--hops", "0", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}, "--hops 0"},
	} {
		_, _, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: %v, want %q", c.args, err, c.says)
		}
	}
	if _, err := os.Stat(st); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused index created the store")
	}
	st = simStore(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "case.csv")
	b, err := os.ReadFile("../../testdata/sim/btc/case.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	f := strings.Split(lines[2], ",")
	f[4] = "yesterday at noon"
	lines[2] = strings.Join(f, ",")
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644)
	if _, _, err := run(t, "--store", st, "trace", "--case", bad); err == nil || !strings.Contains(err.Error(), "line 3: time") {
		t.Errorf("a case time that is not one: %v", err)
	}
	tr := filepath.Join(dir, "t.json")
	if _, _, err := run(t, "--store", st, "trace", "--case", "../../testdata/sim/btc/case.csv", "--out", tr); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644)
	if _, _, err := run(t, "freeze", "--trace", tr, "--out", full); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("freeze into a full folder: %v", err)
	}
	if _, _, err := run(t, "freeze", "--trace", tr, "--out", "/"); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("freeze --out /: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "notes.txt")); string(b) != "mine" {
		t.Error("freeze changed a file it was refused to write among")
	}
}

// TestFaultSignal: SIGTERM cancels a command, and a second one ends it at
// once: a long simulation (which does not look at its context) stops
// with exit status 130 and one line, never a stack trace. (A command
// that checks its context stops at the first; one that does not is
// ended after stopGrace.)
func TestFaultSignal(t *testing.T) {
	cmd := exec.Command(os.Args[0], "simulate", "btc", "--out", t.TempDir(), "--scale", "300", "--days", "60")
	cmd.Env = append(os.Environ(), "FUNDTRACE_TEST_CHILD=1")
	var out strings.Builder
	cmd.Stderr, cmd.Stdout = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("exit %v after two SIGTERMs\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after two SIGTERMs\n%s", out.String())
	}
	noStackTrace(t, "simulate", out.String())
	if !strings.Contains(out.String(), "stopping") || !strings.Contains(out.String(), "stopped before the command finished") {
		t.Fatalf("output:\n%s", out.String())
	}
}
