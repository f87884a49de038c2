// Package shareddata finds the project's shared real-data folder
// (../shared/data beside the repository) for tests.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared data folder. Where it is missing the test is
// skipped, except under CI (CI=true), where that is a failure: CI must
// never pass by skipping the real-data tests.
func Dir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("shared data folder ../shared/data not found beside the repository")
	}
	t.Skip("shared data folder ../shared/data not found beside the repository")
	return ""
}

// Path returns a file under the shared data folder.
func Path(t testing.TB, rel ...string) string {
	return filepath.Join(append([]string{Dir(t)}, rel...)...)
}
