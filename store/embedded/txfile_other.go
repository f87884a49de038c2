//go:build !unix

package embedded

// mapping is empty where files are not mapped: records are read with
// ReadAt.
type mapping struct{}

func (tf *txFile) bytesAt(off uint64, n uint32, buf []byte) ([]byte, error) {
	return tf.readAt(off, n, buf)
}

func (tf *txFile) unmap() error { return nil }

// minMapping is unused where files are not mapped.
var minMapping = 0
