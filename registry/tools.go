package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Tool pin states.
const (
	ToolPinned  = "pinned"  // the definition is the one pinned (or accepted)
	ToolChanged = "changed" // the description or a schema differs from the pin
	ToolNew     = "new"     // listed after the first answer, never accepted
	ToolRemoved = "removed" // pinned, and missing from the latest answer
	// ToolQuarantined is a definition that tells the model things no
	// honest tool needs (a hard finding of the scanner): hidden from the
	// client and refused until a person accepts it.
	ToolQuarantined = "quarantined"

	// toolRetired is a removed tool whose removal was accepted. The row
	// stays so that the server keeps counting as pinned: otherwise a server
	// whose every tool was removed would have its next answer pinned
	// silently, as if it were its first.
	toolRetired = "retired"
)

// Changes that ObserveTools and AcceptTools report. Changed, new and
// removed are drift; the others are not.
const (
	ChangePinned   = "pinned"   // the server's first answer pinned the tool
	ChangeChanged  = "changed"  // drift: the definition differs from the pin
	ChangeNew      = "new"      // drift: a tool the pin does not know
	ChangeRemoved  = "removed"  // drift: a pinned tool is no longer listed
	ChangeReverted = "reverted" // a changed or removed tool is back to its pin
	ChangeAccepted = "accepted" // a person pinned the current definition
	// ChangeQuarantined is drift too: a first-seen or changed definition
	// with a hard finding.
	ChangeQuarantined = "quarantined"
)

// IsDrift reports whether a change is drift (an alert).
func IsDrift(change string) bool {
	return change == ChangeChanged || change == ChangeNew || change == ChangeRemoved || change == ChangeQuarantined
}

// ToolDef is one tool as a server lists it: its canonical definition (name,
// description, input and output schema), the digest of that, and the
// annotations, which are kept but never pinned.
type ToolDef struct {
	Name        string
	Definition  json.RawMessage
	Hash        string
	Annotations json.RawMessage
	// Hold says the definition has a hard finding: unless it is the
	// pinned (accepted) one, the tool is quarantined.
	Hold bool
}

// Tool is a server's tool as pinned and as last seen.
type Tool struct {
	ServerID    string          `json:"server_id"`
	Name        string          `json:"name"`
	State       string          `json:"state"`
	Definition  json.RawMessage `json:"definition,omitempty"` // as last listed; empty when removed
	Hash        string          `json:"hash,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	PinnedDef   json.RawMessage `json:"pinned_definition,omitempty"` // empty for a new tool
	PinnedHash  string          `json:"pinned_hash,omitempty"`
	ChangedAt   time.Time       `json:"changed_at"` // when it entered its state
	SeenAt      time.Time       `json:"seen_at"`    // when a tools/list last showed it
}

// ToolChange is one transition of a tool's pin.
type ToolChange struct {
	Tool   Tool   `json:"tool"`   // after the change
	From   string `json:"from"`   // the state before ("" when the tool was unknown)
	Change string `json:"change"` // Change*
	Before Tool   `json:"-"`      // the row before the change
}

// ObserveTools compares a complete tools/list answer with the server's
// pins, in one write transaction, so that proxies of the same server that
// see the same answer report a change once. The first answer a server gives
// pins every tool in it. Later answers update what was last seen and report
// drift: a changed definition, a new tool, a removed one. A tool that comes
// back to its pinned definition is reverted. Unaccepted new tools that go
// away again are forgotten.
func (r *DB) ObserveTools(ctx context.Context, serverID string, defs []ToolDef, now time.Time) ([]ToolChange, error) {
	changes, _, _, err := r.observeTools(ctx, serverID, defs, now, true)
	return changes, err
}

// CompareTools is ObserveTools, except that the tools listed as they were
// are only named, not written: the caller marks them seen with TouchTools
// when it can afford to. Every session lists a server's thousands of
// tools again, nearly always unchanged, and then compares them without
// writing. The tools that a first answer pins (ChangePinned, not drift)
// are not in changes: a first answer of thousands of tools would list
// each.
func (r *DB) CompareTools(ctx context.Context, serverID string, defs []ToolDef, now time.Time) (Comparison, error) {
	changes, unchanged, gen, err := r.observeTools(ctx, serverID, defs, now, false)
	return Comparison{Changes: changes, Unchanged: unchanged, Gen: gen}, err
}

// Comparison is what CompareTools found.
type Comparison struct {
	Changes   []ToolChange
	Unchanged []string // the tools listed as they were: for TouchTools
	// Gen is the server's tool generation the comparison left: what
	// RememberAnswer keeps the answer with.
	Gen int64
}

// known says whether a tool known by its source (no Definition) is as
// its pin still is: pinned at that digest with those annotations, so that
// comparing it changes nothing and needs no definition.
func known(d ToolDef, slim pin) bool {
	ann := string(d.Annotations)
	if ann == "" {
		ann = "{}"
	}
	return slim.State == ToolPinned && slim.Hash == d.Hash && slim.PinnedHash == d.Hash && slim.Annotations == ann && !d.Hold
}

func (r *DB) observeTools(ctx context.Context, serverID string, defs []ToolDef, now time.Time, touch bool) ([]ToolChange, []string, int64, error) {
	// A first answer inserts thousands of tools (bulk_tx.go).
	tx, release, err := r.beginBulk(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	defer release()
	defer tx.Rollback()
	// The pins are read without their definitions: an answer is compared
	// by digest, and a definition is read only for a tool that changes.
	rows, err := queryToolDigests(ctx, tx, serverID)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	full := func(name string) (Tool, error) {
		return scanTool(tx.QueryRowContext(ctx, toolSelect+` WHERE server_id = ? AND name = ?`, serverID, name))
	}
	// A server may list thousands of tools: each statement is parsed once
	// for the whole answer, not once a tool.
	// New tools are inserted insertRows to a statement: a server's first
	// answer inserts thousands, and each statement costs more than a row.
	// OR FAIL, not the default OR ABORT: a statement that could undo its
	// own rows on a failed constraint has SQLite copy every page it
	// touches, that earlier statements wrote, to a statement journal
	// first; any failure here rolls the whole transaction back anyway.
	var inserts []any
	inserted := false
	insertN := func(n int) string {
		return `INSERT OR FAIL INTO tools (server_id, name, definition, hash, annotations, pinned_hash, pinned_def, state,
			changed_at, seen_at) VALUES ` + strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, n), ", ")
	}
	batch, err := tx.PrepareContext(ctx, insertN(insertRows))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	defer batch.Close()
	flush := func(all bool) error {
		rest := inserts
		for len(rest) >= insertRows*10 || all && len(rest) > 0 {
			n := min(len(rest)/10, insertRows)
			var err error
			if n == insertRows {
				_, err = batch.ExecContext(ctx, rest[:n*10]...)
			} else {
				_, err = tx.ExecContext(ctx, insertN(n), rest[:n*10]...)
			}
			if err != nil {
				return err
			}
			rest = rest[n*10:]
		}
		inserts = append(inserts[:0], rest...) // the array is reused
		return nil
	}
	update, err := tx.PrepareContext(ctx, `UPDATE tools SET definition = ?, hash = ?, annotations = ?, state = ?,
		changed_at = ?, seen_at = ?, pinned_hash = ?, pinned_def = ? WHERE server_id = ? AND name = ?`)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	defer update.Close()
	// The first answer of a session pins. Rows that only a scan outside
	// any session wrote (QuarantineScanned: never seen by a session) do
	// not make an answer a later one.
	var seen bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tools WHERE server_id = ? AND seen_at != '')`,
		serverID).Scan(&seen); err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	first := !seen
	ts := fmtTime(now)
	var changes []ToolChange
	var unchanged []string
	// By name, so that changes come in the same order whatever the
	// server's; a name listed twice counts once, first come. The pins
	// are in name order too (SQLite's and Go's orders of strings are both
	// by bytes): the two are walked side by side, with no map of
	// thousands of names.
	defs = slices.Clone(defs)
	slices.SortStableFunc(defs, func(a, b ToolDef) int { return strings.Compare(a.Name, b.Name) })
	var unlisted []pin // pins the answer does not list
	next := 0
	for n, d := range defs {
		if d.Name == "" || n > 0 && d.Name == defs[n-1].Name {
			continue // a server that lists a name twice is held to the first
		}
		for next < len(rows) && rows[next].Name < d.Name {
			unlisted = append(unlisted, rows[next])
			next++
		}
		ok := next < len(rows) && rows[next].Name == d.Name
		var slim pin
		if ok {
			slim = rows[next]
			next++
		}
		ann := string(d.Annotations)
		if ann == "" {
			ann = "{}"
		}
		if d.Definition == nil && !(ok && known(d, slim)) {
			return nil, nil, 0, ErrStale // known by its source, and gone or changed since
		}
		if !ok {
			def := string(d.Definition)
			state, pinnedDef, pinnedHash, change := ToolNew, "", "", ChangeNew
			switch {
			case d.Hold:
				state, change = ToolQuarantined, ChangeQuarantined
			case first:
				state, pinnedDef, pinnedHash, change = ToolPinned, def, d.Hash, ChangePinned
			}
			inserts = append(inserts, serverID, d.Name, def, d.Hash, ann, pinnedHash, pinnedDef, state, ts, ts)
			inserted = true
			if err := flush(false); err != nil {
				return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
			}
			if change == ChangePinned && !touch {
				continue // not drift: CompareTools does not list it
			}
			t := Tool{ServerID: serverID, Name: d.Name, State: state, Definition: d.Definition, Hash: d.Hash,
				Annotations: json.RawMessage(ann), PinnedDef: rawOrNil(pinnedDef), PinnedHash: pinnedHash, ChangedAt: now, SeenAt: now}
			changes = append(changes, ToolChange{Tool: t, Change: change})
			continue
		}
		var state, change string
		pinnedHash, repin := slim.PinnedHash, false
		switch {
		case first && !d.Hold && slim.PinnedHash == "":
			// Quarantined by a scan only, and clean as the session's
			// first answer shows it: pinned, as any tool of a first answer.
			state, change, pinnedHash, repin = ToolPinned, ChangePinned, d.Hash, true
		case d.Hold && d.Hash != slim.PinnedHash:
			state = ToolQuarantined
			if slim.State != ToolQuarantined || d.Hash != slim.Hash {
				change = ChangeQuarantined
			}
		case slim.PinnedHash == "": // new, not accepted yet
			state = ToolNew
			if d.Hash != slim.Hash {
				change = ChangeNew // a different unaccepted definition: report it again
			}
		case d.Hash == slim.PinnedHash:
			state = ToolPinned
			if slim.State != ToolPinned {
				change = ChangeReverted
			}
		default:
			state = ToolChanged
			if slim.State != ToolChanged || d.Hash != slim.Hash {
				change = ChangeChanged
			}
		}
		if change == "" && state == slim.State && d.Hash == slim.Hash && ann == slim.Annotations && !repin {
			// As it was (the same digest is the same definition): only
			// seen_at changes, for many tools in one statement (every
			// session lists a server's thousands of tools again, nearly
			// always unchanged).
			unchanged = append(unchanged, d.Name)
			continue
		}
		old, err := full(d.Name)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
		changedAt := old.ChangedAt
		if change != "" {
			changedAt = now
		}
		pinnedDef := string(old.PinnedDef)
		if repin {
			pinnedDef = string(d.Definition)
		}
		if _, err := update.ExecContext(ctx,
			string(d.Definition), d.Hash, ann, state, fmtTime(changedAt), ts, pinnedHash, pinnedDef, serverID, d.Name); err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
		if change != "" {
			t := old
			t.State, t.Definition, t.Hash, t.Annotations, t.ChangedAt, t.SeenAt = state, d.Definition, d.Hash, json.RawMessage(ann), now, now
			t.PinnedHash, t.PinnedDef = pinnedHash, rawOrNil(pinnedDef)
			from := old.State
			if from == toolRetired {
				from = ""
			}
			changes = append(changes, ToolChange{Tool: t, From: from, Change: change, Before: old})
		}
	}
	if err := flush(true); err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	if inserted {
		// New pins change the generation too; once for the answer, where
		// a trigger would run once a row (tool_sources.go).
		if err := bumpGen(ctx, tx, serverID); err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
	}
	if touch {
		if err := touchTools(ctx, tx, serverID, unchanged, ts, false); err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
		unchanged = nil
	}
	unlisted = append(unlisted, rows[next:]...)
	for _, slim := range unlisted {
		if slim.State == ToolRemoved || slim.State == toolRetired {
			continue
		}
		old, err := full(slim.Name)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
		if old.PinnedHash == "" || first {
			// Also a tool the scan saw and this first answer does not list
			// (a server lists other tools to a client with other
			// capabilities): nothing a session showed, nothing to report.
			// A new tool that came and went was never trusted: forget it.
			if _, err := tx.ExecContext(ctx, `DELETE FROM tools WHERE server_id = ? AND name = ?`, serverID, old.Name); err != nil {
				return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tools SET definition = '', hash = '', state = ?, changed_at = ?
			WHERE server_id = ? AND name = ?`, ToolRemoved, ts, serverID, old.Name); err != nil {
			return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
		}
		t := old
		t.State, t.Definition, t.Hash, t.ChangedAt = ToolRemoved, nil, "", now
		changes = append(changes, ToolChange{Tool: t, From: old.State, Change: ChangeRemoved, Before: old})
	}
	// The generation the comparison leaves (tool_sources.go).
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT IFNULL((SELECT gen FROM tool_gens WHERE server_id = ?), 0)`, serverID).Scan(&gen); err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, 0, fmt.Errorf("observe tools: %w", err)
	}
	return changes, unchanged, gen, nil
}

// QuarantineScanned records, for a server no session has listed yet, the
// tools that a scan outside any session (install's) found with a hard
// finding: quarantined from the start, so that a person can review and
// accept them before the client ever starts the server. Only held
// definitions are written, and nothing when a session has listed the
// server's tools: those pins are the session's to make. The rows count as
// unseen, so the session's first answer still pins the rest.
func (r *DB) QuarantineScanned(ctx context.Context, serverID string, defs []ToolDef, now time.Time) ([]ToolChange, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("quarantine tools: %w", err)
	}
	defer tx.Rollback()
	rows, err := queryTools(ctx, tx, serverID)
	if err != nil {
		return nil, fmt.Errorf("quarantine tools: %w", err)
	}
	known := map[string]bool{}
	for _, t := range rows {
		if !t.SeenAt.IsZero() {
			return nil, nil
		}
		known[t.Name] = true
	}
	ts := fmtTime(now)
	var changes []ToolChange
	for _, d := range defs {
		if !d.Hold || d.Name == "" || known[d.Name] {
			continue
		}
		known[d.Name] = true
		ann := string(d.Annotations)
		if ann == "" {
			ann = "{}"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tools (server_id, name, definition, hash, annotations,
			pinned_hash, pinned_def, state, changed_at, seen_at) VALUES (?, ?, ?, ?, ?, '', '', ?, ?, '')`,
			serverID, d.Name, string(d.Definition), d.Hash, ann, ToolQuarantined, ts); err != nil {
			return nil, fmt.Errorf("quarantine tools: %w", err)
		}
		t := Tool{ServerID: serverID, Name: d.Name, State: ToolQuarantined, Definition: d.Definition, Hash: d.Hash,
			Annotations: json.RawMessage(ann), ChangedAt: now}
		changes = append(changes, ToolChange{Tool: t, Change: ChangeQuarantined})
	}
	if len(changes) > 0 {
		if err := bumpGen(ctx, tx, serverID); err != nil {
			return nil, fmt.Errorf("quarantine tools: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("quarantine tools: %w", err)
	}
	return changes, nil
}

// AcceptTools pins the current definitions of a server's drifted tools:
// the named ones, or all when names is empty. A removed tool's pin is
// retired (should it come back, it is new). Tools already pinned are left
// alone; a name the server does not have is an error wrapping ErrNotFound.
func (r *DB) AcceptTools(ctx context.Context, serverID string, names []string, now time.Time) ([]ToolChange, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("accept tools: %w", err)
	}
	defer tx.Rollback()
	rows, err := queryTools(ctx, tx, serverID)
	if err != nil {
		return nil, fmt.Errorf("accept tools: %w", err)
	}
	byName := map[string]Tool{}
	var pick []Tool
	for _, t := range rows {
		if t.State != toolRetired {
			byName[t.Name] = t
			pick = append(pick, t)
		}
	}
	if len(names) > 0 {
		pick = nil
		for _, n := range names {
			t, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("tool %q: %w", n, ErrNotFound)
			}
			pick = append(pick, t)
		}
	}
	ts := fmtTime(now)
	var changes []ToolChange
	for _, t := range pick {
		switch t.State {
		case ToolPinned:
			continue
		case ToolRemoved:
			if _, err := tx.ExecContext(ctx, `UPDATE tools SET definition = '', hash = '', pinned_hash = '', pinned_def = '',
				state = ?, changed_at = ? WHERE server_id = ? AND name = ?`, toolRetired, ts, serverID, t.Name); err != nil {
				return nil, fmt.Errorf("accept tools: %w", err)
			}
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE tools SET pinned_hash = hash, pinned_def = definition, state = ?,
				changed_at = ? WHERE server_id = ? AND name = ?`, ToolPinned, ts, serverID, t.Name); err != nil {
				return nil, fmt.Errorf("accept tools: %w", err)
			}
		}
		after := t
		if t.State != ToolRemoved {
			after.State, after.PinnedDef, after.PinnedHash, after.ChangedAt = ToolPinned, t.Definition, t.Hash, now
		}
		changes = append(changes, ToolChange{Tool: after, From: t.State, Change: ChangeAccepted, Before: t})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accept tools: %w", err)
	}
	return changes, nil
}

// Tools lists a server's tools by name (not those whose removal was
// accepted).
func (r *DB) Tools(ctx context.Context, serverID string) ([]Tool, error) {
	ts, err := queryTools(ctx, r.db, serverID)
	if err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	out := ts[:0]
	for _, t := range ts {
		if t.State != toolRetired {
			out = append(out, t)
		}
	}
	return out, nil
}

// Tool reads one of a server's tools; a tool whose removal was accepted is
// not found.
func (r *DB) Tool(ctx context.Context, serverID, name string) (Tool, error) {
	t, err := scanTool(r.db.QueryRowContext(ctx, toolSelect+` WHERE server_id = ? AND name = ? AND state != ?`,
		serverID, name, toolRetired))
	if err != nil {
		return Tool{}, fmt.Errorf("tool %q: %w", name, err)
	}
	return t, nil
}

// HasPins reports whether a server's tools were ever pinned (its first
// tools/list answer was seen).
func (r *DB) HasPins(ctx context.Context, serverID string) (bool, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM tools WHERE server_id = ?`, serverID).Scan(&n); err != nil {
		return false, fmt.Errorf("tool pins: %w", err)
	}
	return n > 0, nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

const toolSelect = `SELECT server_id, name, definition, hash, annotations, pinned_hash, pinned_def, state,
	changed_at, seen_at FROM tools`

func queryTools(ctx context.Context, q querier, serverID string) ([]Tool, error) {
	rows, err := q.QueryContext(ctx, toolSelect+` WHERE server_id = ? ORDER BY name`, serverID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Tool
	for rows.Next() {
		t, err := scanTool(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func scanTool(row scanner) (Tool, error) {
	var t Tool
	var def, ann, pinned, changed, seen string
	err := row.Scan(&t.ServerID, &t.Name, &def, &t.Hash, &ann, &t.PinnedHash, &pinned, &t.State, &changed, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return Tool{}, ErrNotFound
	}
	if err != nil {
		return Tool{}, err
	}
	t.Definition, t.Annotations, t.PinnedDef = rawOrNil(def), rawOrNil(ann), rawOrNil(pinned)
	t.ChangedAt, t.SeenAt = parseTime(changed), parseTime(seen)
	return t, nil
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
