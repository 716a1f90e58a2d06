package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record kinds.
const (
	KindSessionStart = "session_start" // a proxy started its server
	KindSessionEnd   = "session_end"   // the server exited; data says how
	KindInitialize   = "initialize"    // client and server met (either protocol era)
	KindToolsList    = "tools_list"    // a tools/list answer was seen
	KindCall         = "call"          // a tools/call, committed before it is forwarded
	KindOutcome      = "outcome"       // what the server answered to a call
	KindDenied       = "denied"        // a call that never reached the server
	KindNoise        = "noise"         // a line on the server's stdout that is not JSON
	KindDrift        = "drift"         // a pinned tool changed
	KindBypass       = "bypass"        // a line refused as ambiguous (duplicate keys)
	KindApproval     = "approval"      // a human answered an approval
	KindNeutralised  = "neutralised"   // terminal escapes or hidden characters removed on the way to the client
	KindRefused      = "refused"       // a server's request to the client refused (a form asking for a secret)
	KindAuth         = "auth"          // a remote server's login: login, refresh, step-up, logout
)

// Event is what a caller asks to append; the chain adds seq, prev, hash and signature.
type Event struct {
	Time      time.Time
	ServerID  string
	Server    string
	Client    string
	Kind      string
	Tool      string
	Decision  string
	RequestID json.RawMessage
	Data      any // marshalled to JSON; use a struct or map for stable output
}

// Record is one link of the audit chain. Body is the exact canonical JSON
// that was hashed; Hash is the hex SHA-256 of Body; Sig is the standard base64
// Ed25519 signature of the hash's 32 bytes by the server's key, on the last
// record of each batch a server appends, and empty on the others: each hash
// covers every record before it, so the batch's last signature vouches
// for the whole batch (see chain).
type Record struct {
	Seq       int64           `json:"seq"`
	Prev      string          `json:"prev"`
	Time      time.Time       `json:"time"`
	ServerID  string          `json:"server_id"`
	Server    string          `json:"server"`
	Client    string          `json:"client,omitempty"`
	Kind      string          `json:"kind"`
	Tool      string          `json:"tool,omitempty"`
	Decision  string          `json:"decision,omitempty"`
	RequestID json.RawMessage `json:"request_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Hash      string          `json:"hash"`
	Sig       string          `json:"sig"`
}

// body is the signed part of a record, in a fixed key order.
type body struct {
	Seq       int64           `json:"seq"`
	Prev      string          `json:"prev"`
	Time      string          `json:"time"`
	ServerID  string          `json:"server_id"`
	Server    string          `json:"server"`
	Client    string          `json:"client,omitempty"`
	Kind      string          `json:"kind"`
	Tool      string          `json:"tool,omitempty"`
	Decision  string          `json:"decision,omitempty"`
	RequestID json.RawMessage `json:"request_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// marshalWith is marshal of v, whose data field is empty, with data (valid
// one-line JSON) spliced in as its last member, "data". The encoder
// would check and compact data again, byte by byte, each time a record is
// written: to the spool, then to the chain. data is checked once, where it
// is made (encodeData).
func marshalWith(v any, data json.RawMessage) ([]byte, error) {
	text, err := marshal(v)
	if err != nil || len(data) == 0 {
		return text, err
	}
	out := make([]byte, 0, len(text)+len(data)+8)
	out = append(out, text[:len(text)-1]...) // without its closing brace
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Signer signs a record's hash: an *identity.Key.
type Signer interface {
	Sign(msg []byte) []byte
}

// Append adds ev to the chain, signed by key. See AppendAll.
func (r *DB) Append(ctx context.Context, key Signer, ev Event) (Record, error) {
	recs, err := r.AppendAll(ctx, key, []Event{ev})
	if err != nil {
		return Record{}, err
	}
	return recs[0], nil
}

// AppendAll adds events to the chain, in order, signed by key, in one write
// transaction that reads the tail and inserts after it, so proxies sharing
// the file never fork the chain. When it returns nil the records are
// committed. One transaction for several records is how the proxy keeps a
// call's cost low: an outcome waits briefly and shares the next call's
// commit.
func (r *DB) AppendAll(ctx context.Context, key Signer, evs []Event) ([]Record, error) {
	recs, err := r.appendAll(ctx, key, evs, false)
	if err == nil {
		r.Checkpoint(ctx)
	}
	return recs, err
}

// ErrBusy is returned by TryAppendAll when another writer holds the lock.
var ErrBusy = errors.New("registry is busy")

// TryAppendAll is AppendAll that never waits: when another process holds
// the write lock it returns ErrBusy and writes nothing. The proxy's pump
// uses it to commit a call in line, and steps aside when it cannot.
func (r *DB) TryAppendAll(ctx context.Context, key Signer, evs []Event) ([]Record, error) {
	return r.appendAll(ctx, key, evs, true)
}

// checkpointEvery is how many records may wait in the WAL before
// Checkpoint copies them into the database file.
const checkpointEvery = 1000

// Checkpoint copies the WAL into the database when enough was appended,
// without waiting for readers or writers (PASSIVE). Appends do not
// checkpoint inside their commit, so the hot path never pays for it.
func (r *DB) Checkpoint(ctx context.Context) error {
	r.appendMu.Lock()
	defer r.appendMu.Unlock()
	a := r.app
	if a == nil || a.uncheckpointed < checkpointEvery {
		return nil
	}
	if _, err := a.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	a.uncheckpointed = 0
	return nil
}

func isBusy(err error) bool {
	var se interface{ Code() int }
	return errors.As(err, &se) && se.Code()&0xff == 5 // SQLITE_BUSY and its extended codes
}

func (r *DB) appendAll(ctx context.Context, key Signer, evs []Event, try bool) ([]Record, error) {
	bodies := make([]body, len(evs))
	for i, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		b := body{
			Time: fmtTime(ev.Time), ServerID: ev.ServerID, Server: ev.Server, Client: ev.Client,
			Kind: ev.Kind, Tool: ev.Tool, Decision: ev.Decision, RequestID: ev.RequestID,
		}
		if ev.Data != nil {
			raw, ok := ev.Data.(json.RawMessage)
			if !ok {
				var err error
				if raw, err = marshal(ev.Data); err != nil {
					return nil, fmt.Errorf("append %s record: %w", ev.Kind, err)
				}
			}
			b.Data = raw
		}
		bodies[i] = b
	}
	var out []Record
	err := r.writeTx(ctx, try, func(a *appender) error {
		var err error
		out, err = a.chain(ctx, key, bodies)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeTx runs f in one write transaction on the appender's connection and
// commits. It waits for another writer's lock in Go, up to ten seconds,
// backing off from 50us to 10ms; or, with try, not at all (ErrBusy).
func (r *DB) writeTx(ctx context.Context, try bool, f func(a *appender) error) error {
	if try {
		if !r.appendMu.TryLock() {
			return ErrBusy // another append of this process is running
		}
	} else {
		r.appendMu.Lock()
	}
	defer r.appendMu.Unlock()
	a, err := r.appenderLocked(ctx)
	if err != nil {
		return fmt.Errorf("append records: %w", err)
	}
	for wait, waited := 50*time.Microsecond, time.Duration(0); ; wait = min(2*wait, 10*time.Millisecond) {
		_, err := a.begin.ExecContext(ctx)
		if err == nil {
			break
		}
		if !isBusy(err) {
			return fmt.Errorf("append records: begin: %w", err)
		}
		if try {
			return ErrBusy
		}
		if waited >= 10*time.Second {
			return fmt.Errorf("append records: the registry stayed locked for %v: %w", waited, err)
		}
		select {
		case <-time.After(wait):
			waited += wait
		case <-ctx.Done():
			return fmt.Errorf("append records: %w", ctx.Err())
		}
	}
	a.staged = stagedHead{}
	committed := false
	defer func() {
		if !committed {
			a.rollback.ExecContext(context.WithoutCancel(ctx))
		}
	}()
	if err := f(a); err != nil {
		return err
	}
	if _, err := a.commit.ExecContext(ctx); err != nil {
		return fmt.Errorf("append records: commit: %w", err)
	}
	committed = true
	r.witnessCommit(a)
	return nil
}

// chain links bodies after the chain's tail, signs the last with key and
// inserts them; a write transaction is open.
//
// One signature per batch, not per record: every hash covers the record
// before it, so the signature of a batch's last hash commits the server to
// each record of the batch as firmly as one signature each would. A
// signature costs far more than the hash it signs (about 25µs against 1µs),
// and a busy proxy's mover commits dozens of records a batch; verify
// checks that no unsigned record of a server lacks a later signed one.
func (a *appender) chain(ctx context.Context, key Signer, bodies []body) ([]Record, error) {
	var prevSeq int64
	var prevHash string
	if err := a.tail.QueryRowContext(ctx).Scan(&prevSeq, &prevHash); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("append records: read tail: %w", err)
	}
	out := make([]Record, len(bodies))
	for i, b := range bodies {
		b.Seq, b.Prev = prevSeq+1, prevHash
		data := b.Data
		b.Data = nil
		text, err := marshalWith(b, data)
		b.Data = data
		if err != nil {
			return nil, fmt.Errorf("append %s record: %w", b.Kind, err)
		}
		sum := sha256.Sum256(text)
		hash := hex.EncodeToString(sum[:])
		var sig string
		if i == len(bodies)-1 {
			sig = base64.StdEncoding.EncodeToString(key.Sign(sum[:]))
		}
		if _, err := a.insert.ExecContext(ctx, b.Seq, b.Time, b.ServerID, b.Server,
			b.Kind, b.Tool, b.Decision, string(text), hash, sig); err != nil {
			return nil, fmt.Errorf("append %s record: %w", b.Kind, err)
		}
		out[i] = Record{
			Seq: b.Seq, Prev: b.Prev, Time: parseTime(b.Time), ServerID: b.ServerID, Server: b.Server,
			Client: b.Client, Kind: b.Kind, Tool: b.Tool, Decision: b.Decision,
			RequestID: b.RequestID, Data: b.Data, Hash: hash, Sig: sig,
		}
		prevSeq, prevHash = b.Seq, hash
		a.staged.note(b.Seq, hash, b.ServerID, key)
	}
	a.uncheckpointed += len(out)
	return out, nil
}

// Filter selects records. Zero fields match everything.
type Filter struct {
	ServerID  string
	ServerIDs []string // any of these servers
	Server    string   // by name, any client
	Tool      string
	Kind      string
	Kinds     []string // any of these kinds
	Decision  string
	Since     time.Time
	Until     time.Time
	AfterSeq  int64
	UpToSeq   int64 // records up to this seq only (0: no bound)
	Limit     int   // the newest Limit records (after Offset), still returned oldest first
	Offset    int   // skip this many of the newest
}

// Records returns the records that match f, oldest first.
func (r *DB) Records(ctx context.Context, f Filter) ([]Record, error) {
	var out []Record
	err := r.EachRecord(ctx, f, func(rec Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// EachRecord calls fn with each record that matches f, oldest first, as the
// rows are read: a million records cost one record's memory. An error from
// fn stops it and is returned.
func (r *DB) EachRecord(ctx context.Context, f Filter, fn func(Record) error) error {
	return r.eachRow(ctx, f, "seq, body, hash, sig", func(rows *sql.Rows) error {
		var seq int64
		var text, hash, sig string
		if err := rows.Scan(&seq, &text, &hash, &sig); err != nil {
			return fmt.Errorf("query records: %w", err)
		}
		rec, err := decodeRecord(text)
		if err != nil {
			return fmt.Errorf("query records: %w", err)
		}
		rec.Hash, rec.Sig = hash, sig
		return fn(rec)
	})
}

// RawRecord is a record as it is stored: Body is its signed JSON, whose
// keys are [Record]'s JSON keys (without hash and sig). Body and Hash are
// valid only during the call they are handed to.
type RawRecord struct {
	Seq  int64
	Body []byte
	Hash []byte
}

// EachRawRecord is [DB.EachRecord] without decoding the bodies, for a
// reader that decodes only the fields it needs: a report of a million
// records spends most of its time decoding JSON.
func (r *DB) EachRawRecord(ctx context.Context, f Filter, fn func(RawRecord) error) error {
	var rec RawRecord
	var body, hash sql.RawBytes
	return r.eachRow(ctx, f, "seq, body, hash", func(rows *sql.Rows) error {
		if err := rows.Scan(&rec.Seq, &body, &hash); err != nil {
			return fmt.Errorf("query records: %w", err)
		}
		rec.Body, rec.Hash = body, hash
		return fn(rec)
	})
}

// eachRow runs the query of f for the columns cols and calls fn on each
// row, oldest first.
func (r *DB) eachRow(ctx context.Context, f Filter, cols string, fn func(*sql.Rows) error) error {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ServerID != "" {
		add("server_id = ?", f.ServerID)
	}
	if len(f.ServerIDs) > 0 {
		in(&where, &args, "server_id", f.ServerIDs)
	}
	if f.Server != "" {
		add("server = ?", f.Server)
	}
	if f.Tool != "" {
		add("tool = ?", f.Tool)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if len(f.Kinds) > 0 {
		in(&where, &args, "kind", f.Kinds)
	}
	if f.Decision != "" {
		add("decision = ?", f.Decision)
	}
	if !f.Since.IsZero() {
		add("time >= ?", fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", fmtTime(f.Until))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	if f.UpToSeq > 0 {
		add("seq <= ?", f.UpToSeq)
	}
	q := "SELECT " + cols + " FROM records"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit > 0 || f.Offset > 0 {
		// The newest Limit after Offset, then put oldest first.
		limit := f.Limit
		if limit <= 0 {
			limit = -1
		}
		q = fmt.Sprintf("SELECT * FROM (%s ORDER BY seq DESC LIMIT %d OFFSET %d) ORDER BY seq", q, limit, max(f.Offset, 0))
	} else {
		q += " ORDER BY seq"
	}
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("query records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query records: %w", err)
	}
	return nil
}

// LastSeq is the seq of the chain's newest record, 0 when it is empty.
func (r *DB) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := r.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM records`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("the chain's last record: %w", err)
	}
	return seq, nil
}

// in adds "column IN (?, ?, ...)" for values to a query's conditions.
func in(where *[]string, args *[]any, column string, values []string) {
	*where = append(*where, column+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")+")")
	for _, v := range values {
		*args = append(*args, v)
	}
}

func decodeRecord(text string) (Record, error) {
	var b body
	if err := json.Unmarshal([]byte(text), &b); err != nil {
		return Record{}, err
	}
	return Record{
		Seq: b.Seq, Prev: b.Prev, Time: parseTime(b.Time), ServerID: b.ServerID, Server: b.Server,
		Client: b.Client, Kind: b.Kind, Tool: b.Tool, Decision: b.Decision,
		RequestID: b.RequestID, Data: b.Data,
	}, nil
}

// Stats sums up a server's activity from its records.
type Stats struct {
	Calls     int       `json:"calls"`
	Denied    int       `json:"denied"`    // refused: by policy, a person, drift or the fail mode
	Cancelled int       `json:"cancelled"` // given up by the client while held: nobody refused them
	Last      time.Time `json:"last_activity,omitzero"`
	Records   int       `json:"records"`
}

// Stats returns the activity of every server that has records, by id.
func (r *DB) Stats(ctx context.Context) (map[string]Stats, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT server_id, sum(kind = 'call'), sum(kind = 'denied' AND decision <> 'cancelled'),
		sum(kind = 'denied' AND decision = 'cancelled'), max(time), count(*)
		FROM records GROUP BY server_id`)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	out := map[string]Stats{}
	for rows.Next() {
		var id, last string
		var s Stats
		if err := rows.Scan(&id, &s.Calls, &s.Denied, &s.Cancelled, &last, &s.Records); err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		s.Last = parseTime(last)
		out[id] = s
	}
	return out, rows.Err()
}
