package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/fundtrace/fundtrace/store/embedded"
	"github.com/fundtrace/fundtrace/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		st, err := embedded.Open(filepath.Join(t.TempDir(), "store"), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
