package screening

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fundtrace/fundtrace/internal/atomicfile"
)

// APIKey is a client's key as stored: its hash, never the key itself (the
// key is shown once, when created). The key is 32 random bytes, so one
// SHA-256 is as good as a slow hash: there is nothing to guess.
type APIKey struct {
	ID      string  `json:"id"` // also the key's visible prefix, for logs
	Name    string  `json:"name"`
	Hash    string  `json:"sha256"`
	Created string  `json:"created"`
	Revoked string  `json:"revoked,omitempty"`
	Rate    float64 `json:"rate_per_second,omitempty"` // 0: the server's default
	Admin   bool    `json:"admin,omitempty"`           // may import sanctions lists
	// ReadOnly keys read (screen, explore, cases) but write nothing: no
	// case, note or trace.
	ReadOnly bool `json:"read_only,omitempty"`
}

// KeyOptions are what a new key may do.
type KeyOptions struct {
	Admin    bool    // may import sanctions lists
	ReadOnly bool    // may not write cases, notes or traces
	Rate     float64 // requests a second; 0: the server's default
}

type keyFile struct {
	Keys []APIKey `json:"keys"`
}

func readKeyFile(path string) (keyFile, error) {
	var kf keyFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return kf, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("API key file %s: %w", path, err)
	}
	return kf, nil
}

// writeKeyFile replaces the file atomically (a server reading it sees the
// old keys or the new ones), readable by its owner only.
func writeKeyFile(path string, kf keyFile) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateKey adds a key to the file and returns it: the only time it is
// ever shown.
func CreateKey(path, name string, o KeyOptions) (string, APIKey, error) {
	if o.Admin && o.ReadOnly {
		return "", APIKey{}, errors.New("an admin key writes: it cannot be read-only")
	}
	if strings.TrimSpace(name) == "" {
		return "", APIKey{}, errors.New("an API key needs a name (who it is for)")
	}
	kf, err := readKeyFile(path)
	if err != nil {
		return "", APIKey{}, err
	}
	var id [4]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", APIKey{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", APIKey{}, err
	}
	k := APIKey{ID: hex.EncodeToString(id[:]), Name: name, Created: time.Now().UTC().Format(time.RFC3339), Rate: o.Rate, Admin: o.Admin, ReadOnly: o.ReadOnly}
	text := "ftk_" + k.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	k.Hash = hashKey(text)
	kf.Keys = append(kf.Keys, k)
	if err := writeKeyFile(path, kf); err != nil {
		return "", APIKey{}, err
	}
	return text, k, nil
}

// RevokeKey marks the key with this id (or, if unique, name) revoked.
func RevokeKey(path, which string) (APIKey, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return APIKey{}, err
	}
	var match []int
	for i, k := range kf.Keys {
		if k.ID == which || k.Name == which {
			match = append(match, i)
		}
	}
	switch len(match) {
	case 0:
		return APIKey{}, fmt.Errorf("no API key %q in %s", which, path)
	case 1:
	default:
		return APIKey{}, fmt.Errorf("%d API keys are named %q: revoke by id", len(match), which)
	}
	k := &kf.Keys[match[0]]
	if k.Revoked == "" {
		k.Revoked = time.Now().UTC().Format(time.RFC3339)
	}
	return *k, writeKeyFile(path, kf)
}

// ListKeys returns the keys of the file (hashes only).
func ListKeys(path string) ([]APIKey, error) {
	kf, err := readKeyFile(path)
	return kf.Keys, err
}

// Keys is the server's view of the key file, re-read when it changes so
// that a key created or revoked takes effect without a restart.
type Keys struct {
	path    string
	mu      sync.RWMutex
	byHash  map[string]APIKey
	modTime time.Time
	size    int64
	checked time.Time
}

// LoadKeys reads the key file.
func LoadKeys(path string) (*Keys, error) {
	k := &Keys{path: path}
	if err := k.reload(true); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keys) reload(force bool) error {
	fi, err := os.Stat(k.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var mt time.Time
	var size int64
	if fi != nil {
		mt, size = fi.ModTime(), fi.Size()
	}
	k.mu.RLock()
	same := !force && mt.Equal(k.modTime) && size == k.size
	k.mu.RUnlock()
	if same {
		return nil
	}
	kf, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	by := map[string]APIKey{}
	for _, key := range kf.Keys {
		if key.Revoked == "" {
			by[key.Hash] = key
		}
	}
	k.mu.Lock()
	k.byHash, k.modTime, k.size = by, mt, size
	k.mu.Unlock()
	return nil
}

// Count is the number of keys in force.
func (k *Keys) Count() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.byHash)
}

// byHashOf returns the key in force of hash h (a session's key).
func (k *Keys) byHashOf(h string) (APIKey, bool) {
	k.mu.RLock()
	key, ok := k.byHash[h]
	k.mu.RUnlock()
	return key, ok
}

// Check returns the key a request presented, if it is one in force.
func (k *Keys) Check(secret string) (APIKey, bool) {
	if secret == "" {
		return APIKey{}, false
	}
	k.mu.RLock()
	key, ok := k.byHash[hashKey(secret)]
	k.mu.RUnlock()
	return key, ok
}
