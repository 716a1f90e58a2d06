// Package registry is AIM as aim-mcp's proxy and CLI see it: the servers and
// their identities, the tamper-evident audit chain, approvals, tool pins and
// the evidence behind trust scores. The embedded implementation keeps all of
// it in one SQLite file ($AIM_MCP_HOME/aim.db) that many proxies share.
//
// SQLite runs in WAL mode with a busy timeout, so readers never wait and the
// writers of several proxies queue up; every write that must see the tail of
// the chain runs in an IMMEDIATE transaction, so the chain cannot fork.
//
// A server enters with [DB.Register] (install, watch, or a proxy that finds
// its server unregistered), which gives it an id and a key. A tool call
// leaves records: the proxy's record writer hands each [Event] to its
// session ([DB.StartSession], [Session.Append]), which commits it with one
// write to the session's spool; the session's mover then takes spooled
// lines into the chain in batches, linking each to the chain's tail by hash
// and signing it with the server's key ([DB.MoveSpools] does the same for
// sessions that died). After each commit the new head goes to the
// [Witness] given to [Open] (the system log), out of the user's reach.
// [DB.Verify] walks the chain back, and [DB.CheckWitness] compares it with
// the heads witnessed. The
// CLI, trust and report read what the proxies wrote: [DB.Records],
// [DB.Stats], approvals, pins and rules.
package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go driver, so the binary stays static

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/witness"
)

// ErrNotFound is returned when a server, record or approval does not exist.
var ErrNotFound = errors.New("not found")

// DB is the embedded registry.
type DB struct {
	db   *sql.DB
	path string
	keys identity.Store

	appendMu sync.Mutex
	app      *appender // created on first append

	// The chain witness (see witness.go); guarded by appendMu.
	witness Witness
	homeID  string
	signed  map[string]string // server id → fingerprint of the key this process last signed its records with
}

// appender is a connection kept for appends, with its statements prepared
// once: BEGIN IMMEDIATE and COMMIT included, which database/sql would
// otherwise parse again for every transaction.
type appender struct {
	conn                                  *sql.Conn
	begin, tail, insert, commit, rollback *sql.Stmt
	uncheckpointed                        int // records appended since the last checkpoint
	staged                                stagedHead
}

func (r *DB) appenderLocked(ctx context.Context) (*appender, error) {
	if r.app != nil {
		return r.app, nil
	}
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// The appender never waits inside SQLite: a busy write lock comes back
	// at once, so the proxy's pump can try and step aside (TryAppendAll),
	// and AppendAll waits in Go instead. Checkpoints run on their own
	// (Checkpoint), not inside a commit on the hot path.
	for _, pragma := range []string{"PRAGMA busy_timeout = 0", "PRAGMA wal_autocheckpoint = 0"} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", pragma, err)
		}
	}
	a := &appender{conn: conn}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&a.begin, "BEGIN IMMEDIATE"},
		{&a.tail, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"},
		{&a.insert, `INSERT INTO records (seq, time, server_id, server, kind, tool, decision, body, hash, sig)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&a.commit, "COMMIT"},
		{&a.rollback, "ROLLBACK"},
	} {
		if *p.dst, err = conn.PrepareContext(ctx, p.sql); err != nil {
			conn.Close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	r.app = a
	return a, nil
}

// Options tune Open.
type Options struct {
	// Keys is where server keys live; it defaults to keys/ beside the database.
	Keys identity.Store
	// ReadOnly opens an existing database without creating or migrating it.
	ReadOnly bool
	// Witness is told the chain's head after every commit of records
	// (nil: nobody is). The DB owns it from Open on: Close closes it when
	// it is an io.Closer, after the last commit.
	Witness Witness
}

// Open opens (creating and migrating when needed) the database at path.
func Open(ctx context.Context, path string, opt Options) (_ *DB, err error) {
	if opt.Keys.Dir == "" {
		opt.Keys.Dir = filepath.Join(filepath.Dir(path), "keys")
	}
	if warn := opt.Keys.Warn; warn != nil {
		// Keys are loaded from many goroutines at once (a list checks
		// every server's): their warnings are said one at a time.
		var mu sync.Mutex
		opt.Keys.Warn = func(m string) {
			mu.Lock()
			defer mu.Unlock()
			warn(m)
		}
	}
	if !opt.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create registry directory: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open registry %q: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(wal)")
	q.Add("_pragma", "synchronous(normal)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-1024)")
	q.Set("_txlock", "immediate")
	if opt.ReadOnly {
		q.Set("mode", "ro")
	}
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("open registry %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	// Few connections: appends keep one of their own, and SQLite allows
	// one writer at a time anyway.
	db.SetMaxOpenConns(4)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if !opt.ReadOnly {
		var mode string
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return nil, fmt.Errorf("open registry %q: %w", path, err)
		}
		if mode != "wal" {
			return nil, fmt.Errorf("open registry %q: journal mode is %q, want wal", path, mode)
		}
		if err := migrate(ctx, db); err != nil {
			return nil, fmt.Errorf("migrate registry %q: %w", path, err)
		}
		os.Chmod(path, 0o600)
	}
	r := &DB{db: db, path: path, keys: opt.Keys, witness: opt.Witness,
		homeID: witness.HomeID(filepath.Dir(path)), signed: map[string]string{}}
	if !opt.ReadOnly {
		// What dead sessions left in their spools goes into the chain
		// before anyone reads it. A spool that cannot be moved stays for
		// verify to name; it does not stop the registry from opening.
		r.MoveSpools(ctx)
		// The full arguments of approvals answered while no proxy or
		// command looked, or expired since, are not kept a moment longer.
		r.SweepArgs(ctx)
	}
	return r, nil
}

// Path is the database file.
func (r *DB) Path() string { return r.path }

// Keys is the key store that holds the servers' private keys.
func (r *DB) Keys() identity.Store { return r.keys }

// SQL exposes the handle for packages that keep their own tables in the
// registry file (policy rules, for one).
func (r *DB) SQL() *sql.DB { return r.db }

// Close closes the database.
func (r *DB) Close() error {
	r.appendMu.Lock()
	if a := r.app; a != nil {
		for _, st := range []*sql.Stmt{a.begin, a.tail, a.insert, a.commit, a.rollback} {
			st.Close()
		}
		a.conn.Close()
		r.app = nil
	}
	w := r.witness
	r.witness = nil
	r.appendMu.Unlock()
	if c, ok := w.(io.Closer); ok {
		c.Close() // sends the last head; its failures are its own to report
	}
	return r.db.Close()
}

// dsn is a SQLite URI for path: percent-encoded, so a home such as
// "Application Support" or one with '#' or '?' in it names the right file.
func dsn(path string, q url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows volume: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}).String()
}

// migrations are applied in order; PRAGMA user_version counts how many ran.
// Never edit one that has shipped: add another.
var migrations = []string{
	`CREATE TABLE servers (
		id            TEXT PRIMARY KEY,
		client        TEXT NOT NULL,
		name          TEXT NOT NULL,
		agent_type    TEXT NOT NULL DEFAULT 'mcp_server',
		command       TEXT NOT NULL,
		args          TEXT NOT NULL DEFAULT '[]',
		env_names     TEXT NOT NULL DEFAULT '[]',
		public_key    TEXT NOT NULL,
		status        TEXT NOT NULL DEFAULT 'active',
		remote_id     TEXT NOT NULL DEFAULT '',
		registered_at TEXT NOT NULL,
		updated_at    TEXT NOT NULL,
		UNIQUE (client, name)
	);
	CREATE TABLE records (
		seq       INTEGER PRIMARY KEY,
		time      TEXT NOT NULL,
		server_id TEXT NOT NULL,
		server    TEXT NOT NULL,
		kind      TEXT NOT NULL,
		tool      TEXT NOT NULL DEFAULT '',
		decision  TEXT NOT NULL DEFAULT '',
		body      TEXT NOT NULL,
		hash      TEXT NOT NULL,
		sig       TEXT NOT NULL
	);
	-- One index: each one costs a page write on every append, the hot
	-- path of every tool call. Time ranges without a server scan.
	CREATE INDEX records_server_time ON records (server_id, time);`,
	`CREATE TABLE approvals (
		id          TEXT PRIMARY KEY,
		server_id   TEXT NOT NULL,
		server      TEXT NOT NULL,
		tool        TEXT NOT NULL,
		args_digest TEXT NOT NULL,
		args        TEXT NOT NULL DEFAULT '{}',
		risk        TEXT NOT NULL DEFAULT '',
		reason      TEXT NOT NULL DEFAULT '',
		status      TEXT NOT NULL DEFAULT 'pending',
		created_at  TEXT NOT NULL,
		expires_at  TEXT NOT NULL,
		decided_at  TEXT NOT NULL DEFAULT '',
		decided_by  TEXT NOT NULL DEFAULT '',
		note        TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX approvals_lookup ON approvals (server_id, tool, args_digest, status);
	CREATE TABLE tools (
		server_id   TEXT NOT NULL,
		name        TEXT NOT NULL,
		definition  TEXT NOT NULL,
		hash        TEXT NOT NULL,
		annotations TEXT NOT NULL DEFAULT '{}',
		pinned_hash TEXT NOT NULL DEFAULT '',
		pinned_def  TEXT NOT NULL DEFAULT '',
		state       TEXT NOT NULL DEFAULT 'pinned',
		changed_at  TEXT NOT NULL,
		seen_at     TEXT NOT NULL,
		PRIMARY KEY (server_id, name)
	);
	CREATE TABLE policy_rules (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		server     TEXT NOT NULL,
		tool       TEXT NOT NULL,
		when_ptr   TEXT NOT NULL DEFAULT '',
		when_op    TEXT NOT NULL DEFAULT '',
		when_value TEXT NOT NULL DEFAULT '',
		risk       TEXT NOT NULL DEFAULT '',
		action     TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	);`,
	`CREATE TABLE installs (
		path         TEXT PRIMARY KEY,
		client       TEXT NOT NULL,
		backup       TEXT NOT NULL,
		written_hash TEXT NOT NULL,
		installed_at TEXT NOT NULL
	);`,
	`CREATE TABLE aim_verdicts (
		agent_id   TEXT NOT NULL,
		capability TEXT NOT NULL,
		allowed    INTEGER NOT NULL,
		reason     TEXT NOT NULL DEFAULT '',
		audit_id   TEXT NOT NULL DEFAULT '',
		decided_at TEXT NOT NULL,
		PRIMARY KEY (agent_id, capability)
	);`,
	// What watch kept in configs.json beside the registry: one table of
	// what is known of each config file. servers is NULL for a file never
	// reconciled.
	`ALTER TABLE installs RENAME TO configs;
	ALTER TABLE configs ADD COLUMN servers TEXT;
	ALTER TABLE configs ADD COLUMN released INTEGER NOT NULL DEFAULT 0;`,
	// One row per proxy session: how much of its spool is in the records
	// table (lines, bytes, the last line's hash), whether it is done, and
	// the size of a half-written last line found when it was finished.
	`CREATE TABLE spools (
		session    TEXT PRIMARY KEY,
		server_id  TEXT NOT NULL,
		server     TEXT NOT NULL,
		client     TEXT NOT NULL DEFAULT '',
		moved      INTEGER NOT NULL DEFAULT 0,
		offset     INTEGER NOT NULL DEFAULT 0,
		last       TEXT NOT NULL DEFAULT '',
		done       INTEGER NOT NULL DEFAULT 0,
		tail       INTEGER NOT NULL DEFAULT 0,
		started_at TEXT NOT NULL
	);
	CREATE INDEX spools_open ON spools (done);`,
	// What a remote server showed of itself, pinned like its tools: the
	// TLS key and the authorization server's issuer (peers.go).
	`CREATE TABLE peer_pins (
		server_id  TEXT NOT NULL,
		name       TEXT NOT NULL,
		value      TEXT NOT NULL,
		pinned     TEXT NOT NULL,
		state      TEXT NOT NULL,
		changed_at TEXT NOT NULL,
		seen_at    TEXT NOT NULL,
		PRIMARY KEY (server_id, name)
	);`,
	// Comparing a tools/list answer with the pins reads each tool's digests
	// and state, not its definition: from this index alone, not from the
	// table's wide rows. And the SHA-256 of the bytes each tool was last
	// listed in, so that the same bytes again are not read (tool_sources.go).
	`CREATE INDEX tools_pins ON tools (server_id, name, state, hash, pinned_hash, annotations);
	CREATE TABLE tool_sources (
		server_id   TEXT NOT NULL,
		source      TEXT NOT NULL,
		name        TEXT NOT NULL,
		hash        TEXT NOT NULL,
		annotations TEXT NOT NULL,
		PRIMARY KEY (server_id, source)
	);
	CREATE TABLE tool_answers (
		server_id TEXT PRIMARY KEY,
		answer    TEXT NOT NULL,
		gen       INTEGER NOT NULL
	);
	CREATE TABLE tool_gens (
		server_id TEXT PRIMARY KEY,
		gen       INTEGER NOT NULL
	);
	CREATE TRIGGER tools_gen_update AFTER UPDATE OF name, definition, hash, annotations, pinned_hash, pinned_def, state ON tools
	BEGIN
		INSERT OR IGNORE INTO tool_gens (server_id, gen) VALUES (NEW.server_id, 0);
		UPDATE tool_gens SET gen = gen + 1 WHERE server_id = NEW.server_id;
	END;
	CREATE TRIGGER tools_gen_delete AFTER DELETE ON tools
	BEGIN
		INSERT OR IGNORE INTO tool_gens (server_id, gen) VALUES (OLD.server_id, 0);
		UPDATE tool_gens SET gen = gen + 1 WHERE server_id = OLD.server_id;
	END;`,
	// The tool sources in one B-tree, their key's, not in a table and an
	// index beside it: a server's first list of thousands of tools writes
	// a third fewer pages to remember them. What was remembered is only
	// what saves a later session reading a tool again, so it is dropped,
	// not copied: the next list of each server reads its tools once more.
	`DROP TABLE tool_sources;
	CREATE TABLE tool_sources (
		server_id   TEXT NOT NULL,
		source      TEXT NOT NULL,
		name        TEXT NOT NULL,
		hash        TEXT NOT NULL,
		annotations TEXT NOT NULL,
		PRIMARY KEY (server_id, source)
	) WITHOUT ROWID;`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this aim-mcp knows (%d): upgrade aim-mcp", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}

// timeFormat sorts as text and keeps nanoseconds, so range queries can
// compare strings.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// ParseTime reads a record body's time as [DB.EachRecord] does: the zero
// time when it is not one.
func ParseTime(s string) time.Time { return parseTime(s) }
