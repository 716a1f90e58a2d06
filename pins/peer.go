package pins

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Peer pins what a remote server shows of itself in a proxy session: the
// key of its TLS certificate (registry.PeerTLS) and the issuer of the
// authorization server its login came from (registry.PeerIssuer). The first
// values a session sees are pinned; a different one later is drift, as a
// changed tool is: a signed drift record, an alert, and every tools/call of
// the server refused until a person runs `aim-mcp pins accept SERVER @tls`
// (or @issuer). A new key is what a hijacked name looks like, a new issuer
// what a swapped authorization server does; neither is for a model to judge.
//
// It is a policy.Hook (Before refuses the calls) and an
// mcpproxy.ToolsObserver: the tools/list a client sends first thing in a
// session compares, so the drift is recorded when the session starts.
type Peer struct {
	DB     *registry.DB
	Server registry.Server
	// Action is the drift action: allow lets the calls run (the drift is
	// still recorded); anything else refuses them.
	Action audit.Action
	// TLS reads the server certificate's key hash and issuer as the session
	// saw them ("" before the first answer, and for http).
	TLS func() (spki, issuer string)
	// Issuer reads the authorization server's issuer of the login in use
	// ("" without one). Nil: the server has no OAuth.
	Issuer func() string
	// Record appends a record to the session's audit chain.
	Record func(ctx context.Context, ev registry.Event) error
	// Alert tells the person; nil is silent.
	Alert func(msg string)
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu        sync.Mutex
	seen      map[string]string // name → the value compared last in this session
	drifted   map[string]registry.PeerPin
	checkedAt time.Time // the last comparison that went through
}

// current is what the session shows now, by pin name; an empty value is
// not known yet.
func (p *Peer) current() (vals map[string]string, tlsIssuer string) {
	vals = map[string]string{}
	if p.TLS != nil {
		vals[registry.PeerTLS], tlsIssuer = p.TLS()
	}
	if p.Issuer != nil {
		vals[registry.PeerIssuer] = p.Issuer()
	}
	return vals, tlsIssuer
}

// settled reports, without the registry and without asking the login
// (which may be refreshing: Quick runs on the pump), whether nothing
// drifted at the last comparison, less than a second ago, and the TLS key
// is the one compared then. A login from another authorization server in
// the middle of a session is seen within a second.
func (p *Peer) settled() bool {
	spki := ""
	if p.TLS != nil {
		spki, _ = p.TLS()
	}
	if !p.mu.TryLock() {
		return false // a comparison is on its way: the slow path waits for it
	}
	defer p.mu.Unlock()
	return len(p.drifted) == 0 && time.Since(p.checkedAt) < time.Second && (spki == "" || p.seen[registry.PeerTLS] == spki)
}

// check compares what the session shows with the pins, records what
// changed, and returns the pins that are drifted now (read afresh, so that
// `aim-mcp pins accept` releases them at once).
func (p *Peer) check(ctx context.Context) ([]registry.PeerPin, error) {
	vals, tlsIssuer := p.current()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen, p.drifted = map[string]string{}, map[string]registry.PeerPin{}
	}
	ctx = context.WithoutCancel(ctx) // what the server showed is evidence
	observed := false
	for _, name := range []string{registry.PeerTLS, registry.PeerIssuer} {
		v := vals[name]
		if v == "" || p.seen[name] == v {
			continue
		}
		c, changed, err := p.DB.ObservePeer(ctx, p.Server.ID, name, v, p.now())
		if err != nil {
			return nil, err
		}
		p.seen[name], observed = v, true
		if changed && c.Change != registry.ChangePinned {
			p.record(ctx, c, tlsIssuer)
		}
	}
	if !observed && len(p.drifted) == 0 {
		p.checkedAt = time.Now()
		return nil, nil
	}
	pins, err := p.DB.PeerPins(ctx, p.Server.ID)
	if err != nil {
		return nil, err
	}
	p.drifted = map[string]registry.PeerPin{}
	var out []registry.PeerPin
	for _, pin := range pins {
		// A value this session does not show (no login now) is not held
		// against it.
		if pin.State != registry.ToolPinned && vals[pin.Name] != "" && vals[pin.Name] != pin.Pinned {
			p.drifted[pin.Name] = pin
			out = append(out, pin)
		}
	}
	p.checkedAt = time.Now()
	return out, nil
}

func (p *Peer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// peerWhat names a peer pin in a sentence.
func peerWhat(name string) string {
	if name == registry.PeerTLS {
		return "TLS certificate key"
	}
	return "authorization server"
}

// record writes the drift record and raises the alert.
func (p *Peer) record(ctx context.Context, c registry.PeerChange, tlsIssuer string) {
	data := map[string]any{"change": c.Change, "state": c.Pin.State, "from": c.From,
		"pinned": c.Pin.Pinned, "current": c.Pin.Value, "previous": c.Before.Value}
	if c.Pin.Name == registry.PeerTLS && tlsIssuer != "" {
		data["tls_issuer"] = tlsIssuer
	}
	if p.Record != nil {
		if err := p.Record(ctx, registry.Event{Time: p.now(), Kind: registry.KindDrift, Tool: c.Pin.Name,
			Decision: c.Change, Data: data}); err != nil && p.Alert != nil {
			p.Alert(fmt.Sprintf("error: cannot record the drift of %s: %v", c.Pin.Name, err))
		}
	}
	if c.Change != registry.ChangeChanged || p.Alert == nil {
		return
	}
	srv := Quote(p.Server.Name)
	p.Alert(fmt.Sprintf("alert: the %s of server %q changed since it was pinned (was %s, now %s); its tool calls are refused. "+
		"If the change is expected, accept it with `aim-mcp pins accept %s %s`", peerWhat(c.Pin.Name), p.Server.Name,
		c.Pin.Pinned, c.Pin.Value, srv, c.Pin.Name))
}

// Before refuses a call while the server's TLS key or authorization server
// differs from its pin; it refuses too when the pins cannot be read.
func (p *Peer) Before(ctx context.Context, c *mcpproxy.Call) (string, *mcpproxy.Verdict) {
	drifted, err := p.check(ctx)
	srv := Quote(p.Server.Name)
	if err != nil {
		return "", &mcpproxy.Verdict{Decision: audit.FailClosed, Source: Source,
			Reason: fmt.Sprintf("the pinned TLS key and authorization server of server %q cannot be read (%v)", p.Server.Name, err),
			Next:   "run `aim-mcp pins " + srv + "` in a terminal to see what is wrong"}
	}
	if len(drifted) == 0 || p.Action == audit.ActionAllow {
		return "", nil
	}
	var what, names []string
	for _, d := range drifted {
		what = append(what, fmt.Sprintf("its %s changed since it was pinned (pinned %s, now %s)", peerWhat(d.Name), d.Pinned, d.Value))
		names = append(names, d.Name)
	}
	return "", &mcpproxy.Verdict{Decision: audit.Deny, Source: Source,
		Reason: fmt.Sprintf("server %q is not the one that was pinned: %s", p.Server.Name, strings.Join(what, "; ")),
		Next: fmt.Sprintf("Ask the user to check the server and, if the change is expected, run `aim-mcp pins accept %s %s`",
			srv, strings.Join(names, " ")),
		Data: map[string]any{"drift": true, "peer": names}}
}

// Quick answers at once when nothing changed since the last comparison.
func (p *Peer) Quick(c *mcpproxy.Call) (string, *mcpproxy.Verdict, bool) {
	return "", nil, p.settled()
}

// ToolsListed compares at the session's start: a client lists the tools
// first thing, and the drift is recorded then, not at the first call.
func (p *Peer) ToolsListed(ctx context.Context, _ json.RawMessage) {
	if _, err := p.check(ctx); err != nil && p.Alert != nil {
		p.Alert(fmt.Sprintf("error: cannot compare the TLS key and authorization server of server %q with their pins: %v", p.Server.Name, err))
	}
}

// ToolsChanged is nothing to a peer's pins.
func (p *Peer) ToolsChanged(context.Context) {}
