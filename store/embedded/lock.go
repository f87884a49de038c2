package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// lockName is the file through which fundtrace processes share a store:
// a writer holds it exclusively, readers together. Pebble's own LOCK is
// taken by writers only, so two readers, or a reader and a writer, would
// otherwise not see each other; and Pebble's refusal ("resource
// temporarily unavailable") does not say who holds the store.
const lockName = "fundtrace.lock"

// ErrInUse is returned when another process holds the store.
var ErrInUse = errors.New("store in use")

// checkFolder refuses a folder that holds files but is not a store: a
// Pebble store always has its manifest and format markers, and opening a
// folder without them would start an empty store there and delete the
// files it does not know (a store whose marker was lost would lose its
// tables). An empty or missing folder is a new store, for writers only.
//
// It reports whether the folder holds a store already.
func checkFolder(path string, readOnly bool) (bool, error) {
	ents, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		if readOnly {
			return false, fmt.Errorf("no store at %s: index a chain first (fundtrace index), or pass --store", path)
		}
		return false, os.MkdirAll(path, 0o755)
	}
	if err != nil {
		return false, fmt.Errorf("store %s: %w", path, err)
	}
	var manifest, format bool
	var others []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, "marker.manifest."):
			manifest = true
		case strings.HasPrefix(n, "marker.format-version."):
			format = true
		case n == lockName:
		default:
			others = append(others, n)
		}
	}
	if manifest && format {
		return true, nil
	}
	if len(others) == 0 && !manifest && !format {
		if readOnly {
			return false, fmt.Errorf("no store at %s (the folder is empty): index a chain first (fundtrace index), or pass --store", path)
		}
		return false, nil
	}
	missing := "marker.manifest.*"
	if manifest {
		missing = "marker.format-version.*"
	}
	return false, fmt.Errorf("%s holds %d files but not the store's %s: it is not a fundtrace store, or a damaged one; refusing to open it, so that no file in it is replaced or removed (restore the marker from a backup, or pass another --store)",
		path, len(ents), missing)
}

// holder describes the process holding a lock file, as it wrote itself
// into it: "PID N (COMMAND)".
func holder(path string) string {
	b, err := os.ReadFile(filepath.Join(path, lockName))
	if err != nil || len(b) == 0 {
		return "another process"
	}
	return strings.TrimSpace(string(b))
}

func inUse(path, who string, readOnly bool) error {
	if readOnly {
		return fmt.Errorf("%s: %w by %s, which is writing it: try again when it is done", path, ErrInUse, who)
	}
	return fmt.Errorf("%s: %w by %s: a store is written by one process at a time, with no other reading it", path, ErrInUse, who)
}

// self names this process for the lock file.
func self() string {
	return fmt.Sprintf("PID %d (%s)", os.Getpid(), strings.Join(os.Args, " "))
}
