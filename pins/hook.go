package pins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Source is the verdict source of a call held or denied for drift; trust
// does not count such a denial a second time (the drift is the alert).
const Source = "tool pin"

// Hook pins one server's tools in a proxy session. It is a policy.Hook
// (Before holds calls to drifted tools) and an mcpproxy.ToolsObserver
// (every tools/list answer is compared with the pins).
type Hook struct {
	DB     *registry.DB
	Server registry.Server
	// Action is the drift action: approve, deny or allow.
	Action audit.Action
	// Record appends a record to the session's audit chain.
	Record func(ctx context.Context, ev registry.Event) error
	// Alert tells the person (the proxy's stderr, which the client keeps in
	// the server's log). Nil is silent.
	Alert func(msg string)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Scan scans each first-seen or changed definition; a hard finding
	// quarantines the tool. Nil scans nothing.
	Scan *poison.Scanner

	mu      sync.Mutex
	last    string                      // digest of the last complete answer compared
	lastRaw [32]byte                    // its SHA-256 as sent, when it was one page
	pages   []registry.ToolDef          // earlier pages of a paginated answer
	sources map[string]registry.ToolDef // the pages' tools by source (see Page)
	known   int                         // how many of them were known by their source
	// knownSources is what the registry remembered of the tools' sources,
	// read once a session (CompareTools checks each use against the pins).
	knownSources map[string]registry.ToolDef
	stale        bool // the server said its tools changed

	// touching is the writes after the last comparison (seen times, the
	// sources and answer remembered): waited for and added to under mu.
	touching sync.WaitGroup

	// pinned caches which tools are settled, so the common call costs a
	// map lookup, not a query. It is reloaded after each comparison and
	// at most a second old otherwise (another proxy of the same server may
	// have compared meanwhile). Unsettled tools are always read afresh, so
	// "aim-mcp pins accept" releases them at once.
	pinned   map[string]bool
	pinnedAt time.Time

	// vmu guards what the pump reads while an answer is compared: the
	// scanner's verdicts by definition digest (a repeated list costs a
	// lookup), the accepted digests, and the last filtered answer.
	vmu        sync.Mutex
	verdicts   map[string][]poison.Finding
	accepted   map[string]string // tool → pinned digest
	acceptedAt time.Time
	filterIn   [32]byte
	filterOut  json.RawMessage
	filterAt   time.Time
	parsedIn   [32]byte
	askedIn    [32]byte // the answer last asked about as the settled one
	askedOK    bool
	parsed     *Page // the answer FilterTools read, until ToolsListed takes it
}

// settled reports from the cache whether tool is pinned and unchanged.
// With wait false it does not wait for an answer being compared (that
// holds the lock): it reports false, and the caller takes the slow path.
func (h *Hook) settled(ctx context.Context, tool string, wait bool) bool {
	if wait {
		h.mu.Lock()
	} else if !h.mu.TryLock() {
		return false
	}
	defer h.mu.Unlock()
	if h.pinned == nil || time.Since(h.pinnedAt) > time.Second {
		pinned, err := h.DB.Settled(ctx, h.Server.ID)
		if err != nil {
			h.pinned = nil
			return false
		}
		h.pinned, h.pinnedAt = pinned, time.Now()
	}
	return h.pinned[tool]
}

func (h *Hook) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Hook) alert(format string, a ...any) {
	if h.Alert != nil {
		h.Alert(fmt.Sprintf(format, a...))
	}
}

// ToolsListed compares a tools/list answer with the pins. Pages of a
// paginated answer are gathered until the last one, so that tools on
// another page never read as removed.
func (h *Hook) ToolsListed(ctx context.Context, result json.RawMessage) {
	sum := sha256.Sum256(result)
	h.mu.Lock()
	same := h.pages == nil && !h.stale && h.last != "" && sum == h.lastRaw
	h.mu.Unlock()
	if same {
		return // the same bytes as the last answer: one digest, nothing to parse
	}
	if h.settledAnswer(ctx, sum) {
		// What the last session listed, in the same bytes, with every pin
		// as it left them: comparing it again would find nothing.
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.pages == nil {
			h.last, h.lastRaw, h.stale = "answer "+hex.EncodeToString(sum[:]), sum, false
			h.pinned = nil
		}
		// Waited for and added to under h.mu, as below: answers are
		// observed on goroutines of their own.
		h.touching.Wait()
		h.touching.Add(1)
		go func() {
			defer h.touching.Done()
			h.DB.TouchSettled(context.WithoutCancel(ctx), h.Server.ID, h.now())
		}()
		return
	}
	page, ok := h.parse(ctx, result, sum)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range page.Skipped {
		h.alert("warning: server %q listed a tool that cannot be pinned (%s); calls to it need approval", h.Server.Name, s)
	}
	if h.sources == nil {
		h.sources = page.Sources // a one-page answer's, as they are
	} else {
		maps.Copy(h.sources, page.Sources)
	}
	h.known += page.Known
	if page.NextCursor != "" {
		h.pages = append(h.pages, page.Tools...)
		h.lastRaw = [32]byte{}
		return
	}
	single := h.pages == nil
	defs := page.Tools
	if !single {
		defs = append(h.pages, page.Tools...)
	}
	sources, known := h.sources, h.known
	h.pages, h.sources, h.known = nil, nil, 0
	if !single {
		sum = [32]byte{} // only a one-page answer is known by its bytes
	}
	digest := listDigest(defs)
	if digest == h.last && !h.stale {
		h.lastRaw = sum
		return // the same answer again in this session: nothing to compare
	}
	// The answer is compared even when the session is ending: what the
	// server showed is evidence.
	ctx = context.WithoutCancel(ctx)
	// The tools listed as they were are marked seen after the answer is
	// compared, off the path of the calls that wait for the comparison:
	// what they were last seen at decides nothing.
	h.touching.Wait()
	now := h.now()
	cmp, err := h.DB.CompareTools(ctx, h.Server.ID, defs, now)
	if errors.Is(err, registry.ErrStale) && single {
		// A pin changed since its tools were looked up by their bytes:
		// the answer is read whole, and compared again.
		h.knownSources = nil
		page, _ = parseList(result, nil, h.judge(ctx))
		defs, sources, known = page.Tools, page.Sources, 0
		cmp, err = h.DB.CompareTools(ctx, h.Server.ID, defs, now)
	}
	changes, unchanged := cmp.Changes, cmp.Unchanged
	if err == nil {
		h.touching.Add(1)
		go func() {
			defer h.touching.Done()
			h.DB.TouchTools(ctx, h.Server.ID, unchanged, now)
			// What the next session need not read again: the tools by
			// their bytes, and a one-page answer whole.
			if known < len(sources) {
				h.DB.RememberSources(ctx, h.Server.ID, sources)
			}
			if single {
				h.DB.RememberAnswer(ctx, h.Server.ID, hex.EncodeToString(sum[:]), cmp.Gen)
			}
		}()
	}
	if err != nil {
		h.alert("error: cannot compare the tools of server %q with their pins: %v; calls to its tools need approval", h.Server.Name, err)
		h.last, h.lastRaw = "", [32]byte{}
		return
	}
	h.last, h.lastRaw, h.stale = digest, sum, false
	h.pinned = nil // the comparison may have changed what is settled
	h.vmu.Lock()
	h.accepted = nil
	h.vmu.Unlock()
	for _, c := range changes {
		if c.Change == registry.ChangePinned {
			continue
		}
		h.record(ctx, c)
	}
}

// settledAnswer says whether a whole answer is the server's kept settled
// one (registry.DB.SettledAnswer): neither read nor compared again. Only
// for the session's first answer: after it, the session knows its last
// answer itself.
func (h *Hook) settledAnswer(ctx context.Context, sum [32]byte) bool {
	h.mu.Lock()
	later := h.pages != nil || h.last != "" // the session's own memory serves from then on
	h.mu.Unlock()
	if later {
		return false
	}
	// The filter asks first, then the comparison, of the same answer.
	h.vmu.Lock()
	if h.askedIn == sum {
		ok := h.askedOK
		h.vmu.Unlock()
		return ok
	}
	h.vmu.Unlock()
	ok, err := h.DB.SettledAnswer(ctx, h.Server.ID, hex.EncodeToString(sum[:]))
	ok = err == nil && ok
	h.vmu.Lock()
	h.askedIn, h.askedOK = sum, ok
	h.vmu.Unlock()
	return ok
}

// parse reads a tools/list answer and judges each definition: Hold is set
// when the scanner has a hard finding in it. A definition pinned as it is
// (accepted, by digest) is not scanned: whatever it says, it is not held.
// The answer FilterTools read just before is taken as it read it.
func (h *Hook) parse(ctx context.Context, result json.RawMessage, sum [32]byte) (Page, bool) {
	h.vmu.Lock()
	if h.parsed != nil && h.parsedIn == sum {
		p := *h.parsed
		h.parsed = nil
		h.vmu.Unlock()
		return p, true
	}
	h.parsed = nil
	h.vmu.Unlock()
	// Tools listed in the bytes they were last listed in, and pinned as
	// those read, are not read again. Without them (the registry cannot be
	// read) every tool is.
	h.mu.Lock()
	known := h.knownSources
	h.mu.Unlock()
	if known == nil {
		known, _ = h.DB.KnownSources(ctx, h.Server.ID)
		h.mu.Lock()
		h.knownSources = known
		h.mu.Unlock()
	}
	return parseList(result, known, h.judge(ctx))
}

// judge scans a definition as it is read, unless it is the pinned one.
func (h *Hook) judge(ctx context.Context) func(d *registry.ToolDef, v map[string]any) {
	return func(d *registry.ToolDef, v map[string]any) {
		if h.Scan == nil || d.Hash == "" || h.acceptedHash(ctx, d.Name) == d.Hash {
			return
		}
		d.Hold = poison.HasHard(h.verdictOf(*d, v))
	}
}

// ToolsChanged marks the pins for a full re-check on the next answer, even
// when it looks like the last one.
func (h *Hook) ToolsChanged(ctx context.Context) {
	h.mu.Lock()
	h.stale = true
	h.mu.Unlock()
}

// record writes a drift record and raises the alert.
func (h *Hook) record(ctx context.Context, c registry.ToolChange) {
	data := map[string]any{"change": c.Change, "state": c.Tool.State, "action": h.action()}
	if c.From != "" {
		data["from"] = c.From
	}
	if c.Tool.PinnedHash != "" {
		data["pinned_hash"] = c.Tool.PinnedHash
		data["pinned"] = c.Tool.PinnedDef
	}
	if c.Tool.Hash != "" {
		data["hash"] = c.Tool.Hash
		data["current"] = c.Tool.Definition
	}
	var hard []poison.Finding
	if c.Change == registry.ChangeQuarantined {
		for _, f := range h.verdict(registry.ToolDef{Name: c.Tool.Name, Definition: c.Tool.Definition, Hash: c.Tool.Hash}) {
			if f.Severity == poison.Hard {
				hard = append(hard, f)
			}
		}
		data["findings"] = hard
	}
	var what []string
	if c.Change == registry.ChangeChanged {
		what = Changed(c.Tool.PinnedDef, c.Tool.Definition)
		data["fields"] = what
	}
	if h.Record != nil {
		if err := h.Record(ctx, registry.Event{Time: h.now(), Kind: registry.KindDrift, Tool: c.Tool.Name,
			Decision: c.Change, Data: data}); err != nil {
			h.alert("error: cannot record the drift of tool %q: %v", c.Tool.Name, err)
		}
	}
	if !registry.IsDrift(c.Change) {
		return
	}
	var msg string
	switch c.Change {
	case registry.ChangeChanged:
		msg = fmt.Sprintf("tool %q of server %q changed since it was pinned (%s)", c.Tool.Name, h.Server.Name, strings.Join(what, ", "))
	case registry.ChangeNew:
		msg = fmt.Sprintf("server %q lists a new tool %q that was not pinned", h.Server.Name, c.Tool.Name)
	case registry.ChangeRemoved:
		msg = fmt.Sprintf("server %q no longer lists its pinned tool %q", h.Server.Name, c.Tool.Name)
	case registry.ChangeQuarantined:
		msg = fmt.Sprintf("tool %q of server %q is quarantined %s", c.Tool.Name, h.Server.Name, firstWhy(hard))
		srv, tool := Quote(h.Server.Name), Quote(c.Tool.Name)
		h.alert("alert: %s; it is hidden from the client and calls to it are refused. Review with `aim-mcp pins diff %s %s`, release with `aim-mcp pins accept %s %s`",
			msg, srv, tool, srv, tool)
		return
	}
	switch {
	case c.Change == registry.ChangeRemoved:
	case h.action() == audit.ActionDeny:
		msg += "; calls to it are denied"
	case h.action() == audit.ActionApprove:
		msg += "; calls to it need approval"
	}
	srv, tool := Quote(h.Server.Name), Quote(c.Tool.Name)
	h.alert("alert: %s. Review with `aim-mcp pins diff %s %s`, accept with `aim-mcp pins accept %s %s`",
		msg, srv, tool, srv, tool)
}

func (h *Hook) action() audit.Action {
	switch h.Action {
	case audit.ActionDeny, audit.ActionAllow:
		return h.Action
	}
	return audit.ActionApprove
}

// Before holds a call to a tool whose pin is not settled: changed, new,
// removed, or unknown to a server whose tools were pinned. A server never
// listed has nothing to compare with, so its calls pass (its first answer
// pins). When the pins cannot be read, the call is held too.
func (h *Hook) Before(ctx context.Context, c *mcpproxy.Call) (string, *mcpproxy.Verdict) {
	action := h.action()
	// An answer being compared right now is compared first (settled
	// takes the same lock).
	if h.settled(ctx, c.Tool, true) {
		return "", nil
	}
	why := ""
	t, err := h.DB.Tool(ctx, h.Server.ID, c.Tool)
	switch {
	case action == audit.ActionAllow && (err != nil || t.State != registry.ToolQuarantined):
		return "", nil // drift is allowed; a quarantine is not
	case errors.Is(err, registry.ErrNotFound):
		has, err := h.DB.HasPins(ctx, h.Server.ID)
		if err == nil && !has {
			return "", nil
		}
		if err != nil {
			why = fmt.Sprintf("the tool pins cannot be read (%v)", err)
		} else {
			// Never listed: nothing to check the call against, and no
			// person can judge it better by waiting. Refused at once, saying
			// what would let it run.
			return "", &mcpproxy.Verdict{Decision: audit.Deny, Source: Source,
				Reason: fmt.Sprintf("tool %q is not among the tools server %q listed, so there is no pinned definition to check the call against", c.Tool, h.Server.Name),
				Next: fmt.Sprintf("If the server has this tool, list the tools again (a new tool is pinned as new) and ask the user to accept it with `aim-mcp pins accept %s %s`; "+
					"to let calls to tools a server never listed run, set drift_action: allow in config.yaml", Quote(h.Server.Name), Quote(c.Tool)),
				Data: map[string]any{"drift": true, "unlisted": true}}
		}
	case err != nil:
		why = fmt.Sprintf("the tool pins cannot be read (%v)", err)
	case t.State == registry.ToolPinned:
		return "", nil
	case t.State == registry.ToolQuarantined:
		// Whatever the drift action: a person must look first.
		why := fmt.Sprintf("tool %q of server %q is quarantined %s", c.Tool, h.Server.Name,
			firstWhy(h.verdict(registry.ToolDef{Name: t.Name, Definition: t.Definition, Hash: t.Hash})))
		return "", &mcpproxy.Verdict{Decision: audit.Deny, Source: Source, Reason: why,
			Next: fmt.Sprintf("Ask the user to review it with `aim-mcp pins diff %s %s`; a person who trusts it releases it with `aim-mcp pins accept %s %s`",
				Quote(h.Server.Name), Quote(c.Tool), Quote(h.Server.Name), Quote(c.Tool)),
			Data: map[string]any{"quarantined": true}}
	case t.State == registry.ToolChanged:
		why = fmt.Sprintf("tool %q changed since it was pinned (%s)", c.Tool, strings.Join(Changed(t.PinnedDef, t.Definition), ", "))
	case t.State == registry.ToolNew:
		why = fmt.Sprintf("tool %q is new since the tools of server %q were pinned", c.Tool, h.Server.Name)
	default:
		why = fmt.Sprintf("tool %q is %s", c.Tool, t.State)
	}
	next := fmt.Sprintf("review it with `aim-mcp pins diff %s %s` and accept it with `aim-mcp pins accept %s %s`",
		Quote(h.Server.Name), Quote(c.Tool), Quote(h.Server.Name), Quote(c.Tool))
	if action == audit.ActionDeny {
		return "", &mcpproxy.Verdict{Decision: audit.Deny, Source: Source, Reason: why + " (drift_action deny)",
			Next: "Ask the user to " + next, Data: map[string]any{"drift": true}}
	}
	return Source + ": " + why + "; " + next, nil
}

// Quick answers at once for a settled tool (or when drift is allowed); for
// anything else the proxy holds the call and asks Before.
func (h *Hook) Quick(c *mcpproxy.Call) (string, *mcpproxy.Verdict, bool) {
	if h.settled(context.Background(), c.Tool, false) {
		return "", nil, true
	}
	return "", nil, false
}

// Quote writes a name for a shell command line: as is when it is plain,
// else in double quotes.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@+=", r))
	}) < 0 {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// verdict scans a definition once per digest.
func (h *Hook) verdict(d registry.ToolDef) []poison.Finding {
	return h.verdictOf(d, nil)
}

// verdictOf is verdict, with the definition already decoded when decoded is
// not nil.
func (h *Hook) verdictOf(d registry.ToolDef, decoded map[string]any) []poison.Finding {
	if h.Scan == nil || d.Hash == "" {
		return nil
	}
	h.vmu.Lock()
	v, ok := h.verdicts[d.Hash]
	h.vmu.Unlock()
	if ok {
		return v
	}
	if decoded != nil {
		v = h.Scan.ToolValue("", decoded, nil) // as Verdict reads it
	} else {
		v = Verdict(h.Scan, d)
	}
	h.vmu.Lock()
	if h.verdicts == nil {
		h.verdicts = map[string][]poison.Finding{}
	}
	h.verdicts[d.Hash] = v
	h.vmu.Unlock()
	return v
}

// firstWhy says why a tool is held, from its first hard finding.
func firstWhy(fs []poison.Finding) string {
	for _, f := range fs {
		if f.Severity == poison.Hard {
			where := f.Where
			if where == "" {
				where = "its definition"
			}
			return fmt.Sprintf("(%s, in %s): %s", f.Rule, where, f.Why)
		}
	}
	return "(a hard finding)"
}

// FilterTools leaves the tools with a hard finding that no person accepted
// out of a tools/list answer, before the client sees it: line jumping does
// its harm at listing time. ok is false when nothing is left out. The same
// answer again costs a digest and a lookup.
func (h *Hook) FilterTools(ctx context.Context, result json.RawMessage) (json.RawMessage, bool) {
	if h.Scan == nil {
		return nil, false
	}
	sum := sha256.Sum256(result)
	h.vmu.Lock()
	if sum == h.filterIn && time.Since(h.filterAt) < time.Second {
		out := h.filterOut
		h.vmu.Unlock()
		return out, out != nil
	}
	h.vmu.Unlock()
	if h.settledAnswer(ctx, sum) {
		// Every tool is pinned as it reads: none is held.
		h.vmu.Lock()
		h.filterIn, h.filterOut, h.filterAt = sum, nil, time.Now()
		h.vmu.Unlock()
		return nil, false
	}
	page, ok := h.parse(ctx, result, sum)
	if !ok {
		return nil, false
	}
	drop := map[string]bool{}
	for _, d := range page.Tools {
		if d.Hold && h.acceptedHash(ctx, d.Name) != d.Hash {
			drop[d.Name] = true
		}
	}
	var out json.RawMessage
	if len(drop) > 0 {
		out = without(result, drop)
	}
	h.vmu.Lock()
	h.filterIn, h.filterOut, h.filterAt = sum, out, time.Now()
	// ToolsListed compares the same answer next: it need not read it again.
	h.parsedIn, h.parsed = sum, &page
	h.vmu.Unlock()
	return out, out != nil
}

// acceptedHash is the digest a tool is pinned (accepted) at, read at most a
// second ago; "" when none.
func (h *Hook) acceptedHash(ctx context.Context, tool string) string {
	h.vmu.Lock()
	defer h.vmu.Unlock()
	if h.accepted == nil || time.Since(h.acceptedAt) > time.Second {
		h.accepted = map[string]string{}
		h.acceptedAt = time.Now()
		if pinned, err := h.DB.PinnedHashes(ctx, h.Server.ID); err == nil {
			h.accepted = pinned
		}
	}
	return h.accepted[tool]
}

// without rewrites a tools/list result without the named tools; every
// other member of the result and of the tools stays as the server sent it.
func without(result json.RawMessage, drop map[string]bool) json.RawMessage {
	var r map[string]json.RawMessage
	if json.Unmarshal(result, &r) != nil {
		return nil
	}
	var tools []json.RawMessage
	if json.Unmarshal(r["tools"], &tools) != nil {
		return nil
	}
	kept := tools[:0]
	for _, t := range tools {
		var n struct {
			Name string `json:"name"`
		}
		json.Unmarshal(t, &n)
		if !drop[n.Name] {
			kept = append(kept, t)
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return nil
	}
	r["tools"] = b
	out, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	return out
}
