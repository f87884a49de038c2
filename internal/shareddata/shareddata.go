// Package shareddata finds the project's real public test data for tests:
// testdata/shared in the repository (a copy of the workplace's shared
// data folder, with its SOURCES.md naming every file's source and
// licence). Tests read nothing outside the repository: a clone alone
// passes make test.
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
			p := filepath.Join(d, "testdata", "shared")
			if _, err := os.Stat(filepath.Join(p, "SOURCES.md")); err == nil {
				return p
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("real test data not found: no testdata/shared in the repository")
	}
	t.Skip("real test data not found: no testdata/shared in the repository")
	return ""
}

// Path returns a file under the shared data folder.
func Path(t testing.TB, rel ...string) string {
	return filepath.Join(append([]string{Dir(t)}, rel...)...)
}
