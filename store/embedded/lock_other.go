//go:build !unix

package embedded

// storeLock is not taken where flock is missing; Pebble's own lock still
// keeps two writers apart.
type storeLock struct{}

func lock(path string, readOnly bool) (*storeLock, error) { return &storeLock{}, nil }

func (l *storeLock) release() error { return nil }
