package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/opena2a-org/aim-mcp/internal/filelock"
)

// moveLines takes lines of session into the chain in one transaction,
// skipping those moved already, and returns how many lines of the session
// are moved when it is done. With finish the spool is marked done, and tail
// (the bytes of a half-written last line, 0 when none) is kept for verify.
func (r *DB) moveLines(ctx context.Context, session string, srv Server, key Signer, lines []spooled, finish bool, tail int64) (int64, Signer, error) {
	var moved int64
	err := r.writeTx(ctx, false, func(a *appender) error {
		var offset int64
		var last string
		err := a.conn.QueryRowContext(ctx, `SELECT moved, offset, last FROM spools WHERE session = ?`, session).Scan(&moved, &offset, &last)
		if err != nil {
			return fmt.Errorf("move spool %s: %w", session, err)
		}
		var bodies []body
		for _, l := range lines {
			if l.line.N <= moved {
				continue // another process moved it first
			}
			if l.line.N != moved+1 || l.line.Prev != last {
				return fmt.Errorf("move spool %s: line %d does not follow line %d", session, l.line.N, moved)
			}
			bodies = append(bodies, body{Time: l.line.Time, ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
				Kind: l.line.Kind, Tool: l.line.Tool, Decision: l.line.Decision, RequestID: l.line.RequestID, Data: l.line.Data})
			moved, offset, last = l.line.N, offset+l.size, l.hash
		}
		if len(bodies) > 0 {
			key = r.currentKey(ctx, a, srv.ID, key)
			if _, err := a.chain(ctx, key, bodies); err != nil {
				return err
			}
		}
		if len(bodies) == 0 && !finish {
			return nil
		}
		_, err = a.conn.ExecContext(ctx, `UPDATE spools SET moved = ?, offset = ?, last = ?, done = ?, tail = ? WHERE session = ?`,
			moved, offset, last, finish, tail, session)
		if err != nil {
			return fmt.Errorf("move spool %s: %w", session, err)
		}
		return nil
	})
	return moved, key, err
}

// currentKey is the key that signs a server's records now: key, unless
// the server's key was rotated since key was loaded (a proxy that ran
// through "aim-mcp keys rotate"); then the new key, from the key store.
// It is read in the transaction that appends, where the chain and the
// server's public key agree. A key that cannot be loaded leaves key, and
// verify names the records it signs.
func (r *DB) currentKey(ctx context.Context, a *appender, serverID string, key Signer) Signer {
	k, ok := key.(interface{ PublicString() string })
	if !ok {
		return key
	}
	var pub string
	if err := a.conn.QueryRowContext(ctx, `SELECT public_key FROM servers WHERE id = ?`, serverID).Scan(&pub); err != nil || pub == k.PublicString() {
		return key
	}
	// Between the rotation's commit and the swap of files the new key
	// still waits under its own name.
	for _, name := range []string{serverID, nextKey(serverID)} {
		if next, err := r.keys.LoadFile(name); err == nil && next.PublicString() == pub {
			return next
		}
	}
	return key
}

// spoolState is a spool's row in the spools table.
type spoolState struct {
	session    string
	srv        Server
	moved, off int64
	last       string
	done       bool
	tail       int64
	path       string
	ownerAlive bool
	missing    bool
	file       *os.File // open, and locked when the owner is gone
}

func (r *DB) spoolStates(ctx context.Context, done bool) ([]*spoolState, error) {
	q := `SELECT session, server_id, server, client, moved, offset, last, done, tail FROM spools WHERE done = 0`
	if done {
		q = `SELECT session, server_id, server, client, moved, offset, last, done, tail FROM spools WHERE done = 1 AND tail > 0`
	}
	rows, err := r.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read spools: %w", err)
	}
	defer rows.Close()
	var out []*spoolState
	for rows.Next() {
		s := &spoolState{}
		if err := rows.Scan(&s.session, &s.srv.ID, &s.srv.Name, &s.srv.Client, &s.moved, &s.off, &s.last, &s.done, &s.tail); err != nil {
			return nil, fmt.Errorf("read spools: %w", err)
		}
		s.path = r.spoolPath(s.session)
		out = append(out, s)
	}
	return out, rows.Err()
}

// open opens the spool and finds out whether its session still runs.
func (s *spoolState) open() error {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.missing = true
		return nil
	}
	if err != nil {
		return err
	}
	ok, err := filelock.Lock(f, false)
	if err != nil {
		f.Close()
		return err
	}
	s.file, s.ownerAlive = f, !ok
	return nil
}

func (s *spoolState) close() {
	if s.file != nil {
		s.file.Close()
	}
}

// parseSpool reads whole lines from data, which starts after line n whose
// hash is prev, and checks that each links to the one before. It stops at
// the first line that does not; the bytes after the last whole line are a
// half-written line.
func parseSpool(data []byte, n int64, prev string) (lines []spooled, partial int64, broken error) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return lines, int64(len(data)), nil
		}
		text := data[:i]
		data = data[i+1:]
		var l spoolLine
		if err := json.Unmarshal(text, &l); err != nil {
			return lines, 0, fmt.Errorf("line %d is not a record: the spool was edited", n+1)
		}
		if l.N != n+1 || l.Prev != prev {
			return lines, 0, fmt.Errorf("line %d does not link to line %d: the spool was edited", n+1, n)
		}
		sum := sha256.Sum256(text)
		n, prev = l.N, hex.EncodeToString(sum[:])
		lines = append(lines, spooled{line: l, hash: prev, size: int64(len(text) + 1)})
	}
	return lines, 0, nil
}

// MoveSpools moves into the chain what sessions left in their spools: all
// of it for a session that ended (its spool is then removed), the whole
// lines written so far for one that runs. Every aim-mcp process that opens
// the registry for writing does this first, so what a proxy killed with
// SIGKILL spooled is in the chain before anyone reads it. A spool that was
// edited, truncated or deleted is left as it is, for verify to name.
func (r *DB) MoveSpools(ctx context.Context) error {
	states, err := r.spoolStates(ctx, false)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range states {
		if err := r.moveSpool(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *DB) moveSpool(ctx context.Context, s *spoolState) error {
	if err := s.open(); err != nil || s.missing {
		return err
	}
	defer s.close()
	if st, err := s.file.Stat(); err != nil || st.Size() < s.off {
		return err // truncated below what was moved: verify names it
	}
	start := s.off
	if !s.ownerAlive {
		start = 0 // the whole spool is checked before it is removed
	}
	if _, err := s.file.Seek(start, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(s.file)
	if err != nil {
		return err
	}
	intact := true
	if start == 0 {
		// The lines moved already must still be there as they were;
		// otherwise the spool stays, for verify to name.
		before, _, broken := parseSpool(data[:s.off], 0, "")
		intact = broken == nil && int64(len(before)) == s.moved && (s.moved == 0 || before[s.moved-1].hash == s.last)
		data = data[s.off:]
	}
	lines, partial, broken := parseSpool(data, s.moved, s.last)
	finish := !s.ownerAlive && broken == nil && intact
	if len(lines) == 0 && !finish {
		return nil
	}
	srv, err := r.ServerByID(ctx, s.srv.ID)
	if err != nil {
		return fmt.Errorf("move spool %s: %w", s.session, err)
	}
	key, err := r.Key(srv)
	if err != nil {
		return fmt.Errorf("move spool %s: %w", s.session, err)
	}
	if _, _, err := r.moveLines(ctx, s.session, s.srv, key, lines, finish, partial); err != nil {
		return err
	}
	if finish {
		s.close()
		s.file = nil
		os.Remove(s.path)
	}
	return nil
}

// SpoolIssue is what verify found wrong with a session's spool.
type SpoolIssue struct {
	Session string
	Server  string
	// Broken is true when records may be lost or altered; false for a
	// half-written last line, which a proxy that died mid-write leaves.
	Broken bool
	Reason string
}

// VerifySpools checks the spools not yet moved in full: each must exist,
// its lines must link, and the lines already moved must still be there as
// they were. Sessions that ended with a half-written line are named too.
func (r *DB) VerifySpools(ctx context.Context) ([]SpoolIssue, error) {
	states, err := r.spoolStates(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []SpoolIssue
	bad := func(s *spoolState, format string, a ...any) {
		out = append(out, SpoolIssue{Session: s.session, Server: s.srv.Name, Broken: true, Reason: fmt.Sprintf(format, a...)})
	}
	for _, s := range states {
		if err := s.open(); err != nil {
			return nil, err
		}
		if s.missing {
			bad(s, "the spool was deleted before its records were moved (%d of its lines were)", s.moved)
			continue
		}
		data, err := io.ReadAll(s.file)
		s.close()
		if err != nil {
			return nil, err
		}
		lines, partial, broken := parseSpool(data, 0, "")
		switch {
		case broken != nil:
			bad(s, "%v", broken)
		case int64(len(lines)) < s.moved:
			bad(s, "the spool was truncated: %d lines were moved from it, it holds %d", s.moved, len(lines))
		case s.moved > 0 && lines[s.moved-1].hash != s.last:
			bad(s, "line %d is not the line that was moved: the spool was edited", s.moved)
		case partial > 0 && !s.ownerAlive:
			out = append(out, SpoolIssue{Session: s.session, Server: s.srv.Name, Reason: fmt.Sprintf(
				"it ends in a half-written line of %d bytes (the proxy died while writing it): not a record", partial)})
		}
	}
	ended, err := r.spoolStates(ctx, true)
	if err != nil {
		return nil, err
	}
	for _, s := range ended {
		out = append(out, SpoolIssue{Session: s.session, Server: s.srv.Name, Reason: fmt.Sprintf(
			"it ended in a half-written line of %d bytes (the proxy died while writing it): not a record", s.tail)})
	}
	return out, nil
}
