package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/filelock"
)

// A proxy session commits each record with one write(2) of one line to a
// spool file of its own, before the call it records is forwarded: the file
// survives the proxy's death (kill -9, not a power cut), the same promise as
// SQLite's WAL with synchronous=NORMAL, for microseconds instead of a
// transaction. Lines are hash-chained within the session: each names the
// SHA-256 of the line before. The session's mover then takes spooled lines
// into the shared chain of the records table in batches, one transaction
// each, where they are chained globally and signed with the server's key.
// The spools table says, per session, how many lines were moved and the
// hash of the last one, updated in the same transaction as the records, so
// a line is moved once whoever moves it: the session itself, or any
// aim-mcp process that opens the registry (see [DB.MoveSpools]).
//
// While it runs, a session holds an exclusive lock on its spool; a spool
// nobody holds belongs to a session that ended, cleanly or not, and the
// next process to open the registry moves what is left and removes it.

// spoolLine is one line of a spool, in its fixed key order.
type spoolLine struct {
	N         int64           `json:"n"`
	Prev      string          `json:"prev"`
	Time      string          `json:"time"`
	Kind      string          `json:"kind"`
	Tool      string          `json:"tool,omitempty"`
	Decision  string          `json:"decision,omitempty"`
	RequestID json.RawMessage `json:"request_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// spooled is a line written to the spool and not yet moved.
type spooled struct {
	line spoolLine
	hash string
	size int64 // bytes in the file, newline included
}

// SpoolDir is where the sessions' spools live, beside the database.
func (r *DB) SpoolDir() string { return filepath.Join(filepath.Dir(r.path), "spool") }

func (r *DB) spoolPath(session string) string {
	return filepath.Join(r.SpoolDir(), session+".jsonl")
}

// Session is one proxy session's spool and the mover that takes its lines
// into the chain.
type Session struct {
	db  *DB
	id  string
	srv Server
	key Signer // signs the lines it moves; the mover's (moveMu)

	mu      sync.Mutex // spool writes, one at a time and in order
	f       *os.File
	n       int64  // lines written
	prev    string // hash of the last line written
	size    int64  // bytes written
	pending []spooled
	held    int64 // bytes of the pending lines
	failed  error // the last move's error, until a move succeeds

	moveMu sync.Mutex // one move at a time
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// The mover lets lines gather before it moves them. It moves moveLinger
// after the last line of a burst; while lines keep coming it waits for a
// pause, but no longer than moveMaxDelay, moveMaxLines lines or
// moveMaxBytes of them. A busy session then takes the write lock, signs
// and commits a few times a second instead of every few milliseconds,
// which is what many sessions on one home wait on each other for. The
// lines are committed in the spool all the while, and every process that
// reads the chain moves them first.
const (
	moveLinger   = 5 * time.Millisecond
	moveMaxDelay = 250 * time.Millisecond
	moveMaxLines = 4096
	moveMaxBytes = 4 << 20 // what the queue holds: records of big calls move sooner
)

// StartSession creates a spool for a session of srv, whose records key
// signs once they are moved, and starts its mover. The caller must Close it.
func (r *DB) StartSession(ctx context.Context, srv Server, key Signer) (*Session, error) {
	var b [12]byte
	rand.Read(b[:])
	id := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
	if err := os.MkdirAll(r.SpoolDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	path := r.spoolPath(id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spool: %w", err)
	}
	if ok, err := filelock.Lock(f, true); err != nil || !ok {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("lock spool %q: %v", path, err)
	}
	if _, err := r.db.ExecContext(ctx, `INSERT INTO spools (session, server_id, server, client, started_at) VALUES (?, ?, ?, ?, ?)`,
		id, srv.ID, srv.Name, srv.Client, fmtTime(time.Now())); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("register spool: %w", err)
	}
	s := &Session{db: r, id: id, srv: srv, key: key, f: f,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.mover()
	return s, nil
}

// ID names the session; its spool is ID.jsonl in the spool directory.
func (s *Session) ID() string { return s.id }

// Append commits evs to the spool with one write, in order, and returns
// once the kernel has them: from then on they survive the process. When the
// write fails (a full disk) nothing of it stays in the spool, and the
// error says so; the caller fails closed.
func (s *Session) Append(evs ...Event) error {
	var buf bytes.Buffer
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("append to spool: the session is closed")
	}
	n, prev := s.n, s.prev
	lines := make([]spooled, 0, len(evs))
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		l := spoolLine{N: n + 1, Prev: prev, Time: fmtTime(ev.Time), Kind: ev.Kind, Tool: ev.Tool,
			Decision: ev.Decision, RequestID: ev.RequestID}
		var data json.RawMessage
		if ev.Data != nil {
			data = encodeData(ev.Data)
		}
		text, err := marshalWith(l, data)
		l.Data = data
		if err != nil {
			// Only Data can fail, and encodeData never does; kept for
			// the day a field that can is added.
			return fmt.Errorf("append %s record: %w", ev.Kind, err)
		}
		sum := sha256.Sum256(text)
		start := buf.Len()
		buf.Write(text)
		buf.WriteByte('\n')
		n, prev = l.N, hex.EncodeToString(sum[:])
		lines = append(lines, spooled{line: l, hash: prev, size: int64(buf.Len() - start)})
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		// A short write leaves part of a line: cut it off, so the spool
		// stays whole and the next line links to the last whole one.
		s.f.Truncate(s.size)
		return fmt.Errorf("append to spool: %w", err)
	}
	s.n, s.prev, s.size = n, prev, s.size+int64(buf.Len())
	s.pending = append(s.pending, lines...)
	s.held += int64(buf.Len())
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

// mover moves spooled lines into the chain shortly after they are written.
func (s *Session) mover() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			return
		}
		if !s.linger() {
			return
		}
		if err := s.Move(context.Background()); err != nil {
			// Left in the spool, and tried again with the next kick, at
			// Close, or by the next process that opens the registry.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-s.stop:
				return
			}
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
}

// linger waits until the lines written lately are worth a move (see
// moveLinger); false when the session stops meanwhile.
func (s *Session) linger() bool {
	t := time.NewTimer(moveLinger)
	defer t.Stop()
	deadline := time.Now().Add(moveMaxDelay)
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			return false
		}
		s.mu.Lock()
		last, waiting, held := s.n, len(s.pending), s.held
		s.mu.Unlock()
		if last == n || waiting >= moveMaxLines || held >= moveMaxBytes || !time.Now().Before(deadline) {
			return true
		}
		n = last
		t.Reset(min(moveLinger, time.Until(deadline)))
	}
}

// Move takes every line spooled so far into the chain, in one transaction.
func (s *Session) Move(ctx context.Context) error {
	return s.move(ctx, false)
}

func (s *Session) move(ctx context.Context, finish bool) error {
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	s.mu.Lock()
	lines := s.pending
	s.mu.Unlock()
	if len(lines) == 0 && !finish {
		return nil
	}
	moved, key, err := s.db.moveLines(ctx, s.id, s.srv, s.key, lines, finish, 0)
	s.key = key // a rotation's new key, from then on
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = err
	// Lines moved (by us, or by another process that got there first) leave
	// the queue; what was appended meanwhile stays.
	i := 0
	for i < len(s.pending) && s.pending[i].line.N <= moved {
		s.held -= s.pending[i].size
		i++
	}
	s.pending = s.pending[i:]
	return err
}

// Close stops the mover, moves what is left, marks the spool done and
// removes it. When the registry cannot take the lines now the spool stays,
// and the next process that opens the registry moves it.
func (s *Session) Close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	var err error
	for range 3 {
		if err = s.move(ctx, true); err == nil {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return err
	}
	s.f.Close() // and with it the lock
	s.f = nil
	if err == nil {
		os.Remove(s.db.spoolPath(s.id))
	}
	return err
}

// encodeData is a record's data as JSON. Data that cannot be encoded (a
// NaN, a value of a type JSON has no form for) does not cost the record,
// or the others committed with it: the record keeps its kind, tool and
// decision, and its data says what went wrong, with a digest of the value
// as Go prints it.
//
// The result is valid JSON on one line: it is spliced into spool lines and
// bodies as it is (see marshalWith).
func encodeData(v any) json.RawMessage {
	if raw, ok := v.(json.RawMessage); ok {
		if json.Valid(raw) && !bytes.ContainsAny(raw, "\r\n") {
			return raw
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.Bytes()
		}
		v = string(raw) // not JSON: kept, quoted, as the encoder says
	}
	raw, err := marshal(v)
	if err == nil {
		return raw
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v", v))
	raw, _ = marshal(map[string]string{"unencodable": err.Error(), "digest": hex.EncodeToString(sum[:])})
	return raw
}
