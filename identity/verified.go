package identity

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/oshint"
	"github.com/opena2a-org/aim-mcp/internal/par"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// ErrMismatch is CheckAll's answer for a key file that holds another key
// than the registered one.
var ErrMismatch = errors.New("does not match the registered public key")

// verifiedSuffix names the file, beside the key directory (which holds
// keys only), that remembers which key files were seen to hold which
// public key, and what a stat said of each then. It holds no secret:
// public keys and file stamps. Losing it costs one full check of every key.
const verifiedSuffix = ".verified"

// settle is how old a key file's last change must be, when it is stat'ed,
// for its stamp to be remembered: a file's times advance by clock ticks (a
// few milliseconds), and a change made within the tick of the one before
// it could leave the stamp as it was. Once a tick has passed, any change
// moves the change time.
const settle = 100 * time.Millisecond

// coarseSettle is settle on a filesystem whose times have whole seconds
// (FAT keeps two): a change time with no fraction of a second may be one.
const coarseSettle = 2 * time.Second

// settled says whether a stamp taken at start is old enough to remember.
func settled(st stamp, start time.Time) bool {
	age := settle
	if st.ctime%int64(time.Second) == 0 {
		age = coarseSettle
	}
	return st.ctime < start.Add(-age).UnixNano()
}

// seen is what was verified of one key file.
type seen struct {
	pub string
	st  stamp
}

// CheckAll reports, for each server ids[i] whose registered public key is
// pubs[i], what [Store.Load] of its key would say: nil when the key is
// there and is the registered one, [ErrMismatch] when it is another key,
// and Load's error when it cannot be read. It warns as Load does. Checking a key means reading its file and
// deriving a public key from the seed, about 30 µs of CPU: ten thousand
// servers listed on every run would pay that each time. So a key file
// verified once is remembered with its stamp (inode, size, modification
// and change times), and the next look only stats it: any write, rename,
// chmod or replacement moves the change time, which no program can set.
func (s Store) CheckAll(ids, pubs []string) []error {
	out := make([]error, len(ids))
	env, envErr := FromEnv()
	if envErr != nil {
		for i := range out {
			out[i] = envErr
		}
		return out
	}
	known := s.readVerified()
	start := time.Now()
	fresh := make([]*seen, len(ids))
	par.Each(len(ids), func(i int) {
		fresh[i], out[i] = s.check(ids[i], pubs[i], env, known[ids[i]], start)
	})
	changed := false
	for i, f := range fresh {
		if f != nil {
			known[ids[i]], changed = *f, true
		}
	}
	if changed {
		s.writeVerified(known) // a cache: when it cannot be written, the next look checks again
	}
	return out
}

// check is what to remember of a server's key file, when it was read and
// found to be the registered key, and CheckAll's answer for the server.
func (s Store) check(id, pub string, env *Key, was seen, start time.Time) (*seen, error) {
	if env != nil {
		if env.PublicString() == pub {
			return nil, nil
		}
		if s.Warn != nil {
			s.Warn(EnvPrivateKey + " is not this server's registered key; using the stored key")
		}
	}
	p := s.path(id)
	// Stat before reading: when the file changes between the two, the
	// stamp remembered is the older one and the next look reads it again.
	fi, err := os.Stat(p)
	st, ok := stampOf(fi)
	if err == nil && ok && was.pub == pub && was.st == st {
		if fi.Mode().Perm()&0o077 != 0 {
			if ex, err := private.Check(p); err == nil && ex != nil {
				s.warnExposed(p, ex)
			}
		}
		return nil, nil
	}
	k, err := s.LoadFile(id)
	switch {
	case err != nil:
		return nil, err
	case k.PublicString() != pub:
		return nil, ErrMismatch
	case !ok || !settled(st, start):
		return nil, nil
	}
	return &seen{pub: pub, st: st}, nil
}

func (s Store) warnExposed(p string, ex *private.Exposure) {
	if s.Warn != nil {
		s.Warn(fmt.Sprintf("key file %s %s; it should be readable by you alone (%s)", oshint.Quote(p), ex.Who, ex.Fix))
	}
}

// readBack reads back the key files of ids, just written with keys, for
// remember: each file is compared with what was written, stat'ed before
// the read as check does; one changed within the last [settle] is left
// for a look to check.
func (s Store) readBack(ids []string, keys []*Key) []*seen {
	start := time.Now()
	fresh := make([]*seen, len(ids))
	par.Each(len(ids), func(i int) {
		p := s.path(ids[i])
		fi, err := os.Stat(p)
		st, ok := stampOf(fi)
		if err != nil || !ok || !settled(st, start) {
			return
		}
		if b, _, err := private.ReadSmall(p, 256); err == nil && string(b) == keys[i].Seed()+"\n" {
			fresh[i] = &seen{pub: keys[i].PublicString(), st: st}
		}
	})
	return fresh
}

// remember records the key files of ids that readBack found as written as
// verified, so that the first "aim-mcp list" after an install need not
// check them again.
func (s Store) remember(ids []string, fresh []*seen) {
	known, n := s.readVerified(), 0
	for i, f := range fresh {
		if f != nil {
			known[ids[i]], n = *f, n+1
		}
	}
	if n > 0 {
		s.writeVerified(known)
	}
}

func (s Store) verifiedPath() string { return filepath.Clean(s.Dir) + verifiedSuffix }

// readVerified reads the remembered key files; a missing or damaged line
// is a key to check again.
func (s Store) readVerified() map[string]seen {
	b, err := os.ReadFile(s.verifiedPath())
	if err != nil {
		return map[string]seen{}
	}
	// A line a key: sized once, not grown through ten thousand.
	out := make(map[string]seen, bytes.Count(b, []byte{'\n'})+1)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		f := strings.Fields(string(line))
		if len(f) != 6 {
			continue
		}
		var n [4]int64
		ok := true
		for j := range n {
			n[j], err = strconv.ParseInt(f[2+j], 10, 64)
			ok = ok && err == nil
		}
		if ok {
			out[f[0]] = seen{pub: f[1], st: stamp{ino: n[0], size: n[1], mtime: n[2], ctime: n[3]}}
		}
	}
	return out
}

// writeVerified replaces the file of remembered key files, by a rename so
// that a reader never sees half of it.
func (s Store) writeVerified(known map[string]seen) error {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for id, v := range known {
		fmt.Fprintf(w, "%s %s %d %d %d %d\n", id, v.pub, v.st.ino, v.st.size, v.st.mtime, v.st.ctime)
	}
	w.Flush()
	final := s.verifiedPath()
	tmp := final + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	os.Remove(tmp) // a leftover of a process that had this id
	if _, err := private.WriteNew(tmp, buf.Bytes()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
