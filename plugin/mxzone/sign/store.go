package sign

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Store keeps the keys of every zone in a directory the server alone can
// read: DIR/ORIGIN/KEYTAG-ALGORITHM.key, one file per key, so that a zone
// can hold more than one (a rollover adds the next key beside the first).
// Keys outlive their zone file: a zone deleted and added again signs with
// the key its DS at the parent names.
type Store struct {
	Dir string
	// Lazy leaves new keys unsynced: the caller makes a batch of them
	// durable at once (one sync of the file system) before any signature
	// made with them is served.
	Lazy bool
}

// Keys returns the keys of origin, making and saving one of algorithm alg
// when it has none.
func (s Store) Keys(origin string, alg uint8) ([]*Key, error) {
	dir := filepath.Join(s.Dir, strings.ToLower(origin))
	keys, err := s.load(dir)
	if err != nil {
		return nil, err
	}
	// A key of tag 0 (made before NewKey refused them) never signed
	// anything - miekg/dns does not sign with one - and no DS can name it
	// in use: it goes, and another is made.
	keys = slices.DeleteFunc(keys, func(k *Key) bool {
		if k.DNSKEY.KeyTag() != 0 {
			return false
		}
		os.Remove(filepath.Join(dir, keyFile(k)))
		return true
	})
	if len(keys) > 0 {
		return keys, nil
	}
	k, err := NewKey(dns.CanonicalName(origin), alg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sign: key store: %w", err)
	}
	if err := writeFile(filepath.Join(dir, keyFile(k)), k.Marshal(), !s.Lazy); err != nil {
		return nil, err
	}
	return []*Key{k}, nil
}

// keyFile is the name of k's file: KEYTAG-ALGORITHM.key.
func keyFile(k *Key) string { return k.ID() + ".key" }

// Add makes a key of algorithm alg with flags for origin, beside the keys
// it has (taken tells their IDs: a new key never takes the ID of another),
// and saves it, synced unless the store is Lazy: a rollover records it in
// its state only then.
func (s Store) Add(origin string, alg uint8, flags uint16, taken func(id string) bool) (*Key, error) {
	var k *Key
	for k == nil || taken(k.ID()) {
		var err error
		if k, err = NewKeyFlags(dns.CanonicalName(origin), alg, flags); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(s.Dir, strings.ToLower(dns.Fqdn(origin)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sign: key store: %w", err)
	}
	if err := writeFile(filepath.Join(dir, keyFile(k)), k.Marshal(), !s.Lazy); err != nil {
		return nil, err
	}
	return k, nil
}

// Remove deletes the key id of origin: retired, and its records expired
// from every cache.
func (s Store) Remove(origin, id string) error {
	err := os.Remove(filepath.Join(s.Dir, strings.ToLower(dns.Fqdn(origin)), id+".key"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sign: key store: %w", err)
	}
	return nil
}

// ZoneDir is the directory of origin's keys, where a rollover keeps its
// state too.
func (s Store) ZoneDir(origin string) string {
	return filepath.Join(s.Dir, strings.ToLower(dns.Fqdn(origin)))
}

// WriteFile writes data as path, readable by its owner only: aside, then
// renamed into place, synced when sync.
func WriteFile(path string, data []byte, sync bool) error { return writeFile(path, data, sync) }

// Existing returns the keys of origin without making any: none when the
// zone was never signed.
func (s Store) Existing(origin string) ([]*Key, error) {
	return s.load(filepath.Join(s.Dir, strings.ToLower(dns.Fqdn(origin))))
}

// load reads the keys in dir, in file name order.
func (s Store) load(dir string) ([]*Key, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sign: key store: %w", err)
	}
	var keys []*Key
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("sign: key store: %w", err)
		}
		k, err := ParseKey(data, path)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	slices.SortStableFunc(keys, func(a, b *Key) int { return int(a.DNSKEY.KeyTag()) - int(b.DNSKEY.KeyTag()) })
	return keys, nil
}

// writeFile writes a key readable by its owner only: aside, synced (when
// sync), then renamed into place.
func writeFile(path string, data []byte, sync bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("sign: key store: %w", err)
	}
	_, err = f.Write(data)
	if sync {
		err = errors.Join(err, f.Sync())
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sign: key store: %w", err)
	}
	if sync {
		// The rename too: a key that signed what was served must be there
		// after a crash.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				return fmt.Errorf("sign: key store: %w", err)
			}
		}
	}
	return nil
}
