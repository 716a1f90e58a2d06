package registry

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
)

// A server's first tools/list answer pins thousands of tools in one
// transaction, and the session's first call waits for its commit. A
// commit that leaves the WAL over wal_autocheckpoint pages (SQLite's
// default, 1000: 4 MiB, which 5,000 tools pass) copies the whole WAL into
// the database file inside the commit, on the waiting call's path. So that
// transaction runs on a connection of its own that does not checkpoint,
// set back after; the next commit on another connection (the hook's
// writes after the comparison, off the calls' path) checkpoints instead.
// What is written, and when it is durable, is unchanged: the transaction
// is in the WAL before the call that waits for it goes on.
//
// A larger page cache for the transaction (so that SQLite does not spill
// dirty pages to the WAL before the commit) was tried and costs more than
// it saves: each page of the larger cache is memory fresh from the system.

// autoCheckpoint is SQLite's default wal_autocheckpoint, which every
// connection of the pool keeps.
const autoCheckpoint = 1000

// beginBulk begins a write transaction on a connection of its own that
// does not checkpoint when it commits (see above). release must be called
// once the transaction is committed or rolled back: it sets the connection
// back, or closes it for good when it cannot.
func (r *DB) beginBulk(ctx context.Context) (*sql.Tx, func(), error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	set := func(ctx context.Context, pages int) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", pages))
		return err
	}
	release := func() {
		if set(context.WithoutCancel(ctx), autoCheckpoint) != nil {
			// Not set back: the connection leaves the pool.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}
	if err := set(ctx, 0); err != nil {
		release()
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, nil, err
	}
	return tx, release, nil
}
