package registry

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBulkCheckpointsAfter: a first answer whose pins fill the WAL past
// its checkpoint size is committed without copying the WAL into the
// database file (the waiting call does not pay for it); the next commit on
// another connection copies it, and every connection of the pool
// checkpoints again as before.
func TestBulkCheckpointsAfter(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	var defs []ToolDef
	long := strings.Repeat("Reads a record of the inventory. ", 30)
	for i := range 5000 { // some 8 MiB of pages: past the 4 MiB of autoCheckpoint
		defs = append(defs, def(fmt.Sprintf("t%04d", i), long))
	}
	if _, err := db.CompareTools(ctx, s.ID, defs, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := size(); got != before {
		t.Fatalf("the database file went from %d to %d bytes: the first answer's commit checkpointed", before, got)
	}
	if err := db.RememberAnswer(ctx, s.ID, "answer", 1); err != nil {
		t.Fatal(err)
	}
	if got := size(); got < 5<<20 {
		t.Fatalf("the database file is %d bytes after the next commit: the WAL was not checkpointed", got)
	}
	// Every connection the pool may hand out (at most 4) checkpoints.
	var conns []*sql.Conn
	for range 4 {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var pages int
		if err := c.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		if pages != autoCheckpoint {
			t.Errorf("connection %d: wal_autocheckpoint %d, want %d", i, pages, autoCheckpoint)
		}
	}
}
