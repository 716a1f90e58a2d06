package trust

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Source gathers evidence from the registry. It verifies the audit chain
// once for all the servers it scores, from the last checkpoint on (only when
// the whole chain does not verify is each server's part checked on its
// own), and counts the records once for all of them, from the tallies the
// last run left (see counted) on, so scoring every server for "aim-mcp
// list" costs what was appended since the last look, not the length of the
// trail.
type Source struct {
	DB *registry.DB
	// Now is the end of the window; zero is the time of each call.
	Now time.Time

	mu            sync.Mutex
	chain         *registry.Verification
	chainErr      error
	counted       *counted
	tallyDistrust string
	stats         map[string]registry.Stats
	approvals     map[string][]registry.Approval
	loaded        bool
}

// TallyDistrust says why the counts saved by an earlier run were not
// used and every record was counted again (they or a record before them
// were edited); empty when they were used or there were none.
func (s *Source) TallyDistrust(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return "", err
	}
	return s.tallyDistrust, nil
}

func (s *Source) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	// From the last checkpoint: the prefix was verified before.
	v, err := s.DB.VerifySince(ctx)
	if err != nil {
		s.chainErr = err
	} else {
		s.chain = &v
	}
	if err := s.count(ctx); err != nil {
		return err
	}
	as, err := s.DB.Approvals(ctx)
	if err != nil {
		return err
	}
	s.approvals = map[string][]registry.Approval{}
	for _, a := range as {
		s.approvals[a.ServerID] = append(s.approvals[a.ServerID], a)
	}
	s.loaded = true
	return nil
}

// Stats is each server's activity by id, as [registry.DB.Stats] sums it,
// counted once for every score (up to the last record verified when the
// chain verifies).
func (s *Source) Stats(ctx context.Context) (map[string]registry.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s.stats, nil
}

func (s *Source) now() time.Time {
	if s.Now.IsZero() {
		return time.Now()
	}
	return s.Now
}

// Evidence gathers what a server's score is computed from.
func (s *Source) Evidence(ctx context.Context, srv registry.Server) (Evidence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return Evidence{}, err
	}
	now := s.now()
	act, err := s.activity(ctx, srv.ID, now)
	if err != nil {
		return Evidence{}, err
	}
	tools, err := s.DB.Tools(ctx, srv.ID)
	if err != nil {
		return Evidence{}, err
	}
	return s.evidence(ctx, srv, now, s.keyErr(srv), act, tools), nil
}

// evidence puts together a server's evidence from its activity and tools,
// with what load read for every server.
func (s *Source) evidence(ctx context.Context, srv registry.Server, now time.Time, keyErr string, act *Activity, tools []registry.Tool) Evidence {
	ev := Evidence{Server: srv, Now: now, KeyErr: keyErr, Activity: act, Tools: tools}
	switch {
	case s.chainErr != nil:
		ev.ChainErr = s.chainErr.Error()
	case s.chain.OK():
		ev.Chain = registry.Verification{Records: s.stats[srv.ID].Records, Servers: 1}
	default:
		v, err := s.DB.Verify(ctx, srv.ID)
		if err != nil {
			ev.ChainErr = err.Error()
		}
		ev.Chain = v
	}
	ev.Approvals = s.approvals[srv.ID]
	return ev
}

// keyErr says what is wrong with a server's private key, "" when it is
// present and matches the registered public key.
func (s *Source) keyErr(srv registry.Server) string {
	switch key, err := s.DB.Key(srv); {
	case err != nil:
		return "missing or unreadable: " + err.Error()
	case key.PublicString() != srv.PublicKey:
		return "does not match the registered public key"
	}
	return ""
}

// Score computes a server's score.
func (s *Source) Score(ctx context.Context, srv registry.Server) (Score, error) {
	ev, err := s.Evidence(ctx, srv)
	if err != nil {
		return Score{}, err
	}
	return Compute(ev), nil
}

// EachScore scores many servers as [Source.Score] scores each, with one
// count of the records and one read of the tools for all of them rather
// than a query per server, and calls fn with each score, in the servers'
// order.
func (s *Source) EachScore(ctx context.Context, servers []registry.Server, fn func(registry.Server, Score)) error {
	return s.each(ctx, servers, Compute, fn)
}

// EachOverall is EachScore for the overall scores alone, as [Overall]
// computes them: what a list of every server shows.
func (s *Source) EachOverall(ctx context.Context, servers []registry.Server, fn func(registry.Server, float64)) error {
	return s.each(ctx, servers, func(ev Evidence) Score { return Score{Overall: Overall(ev)} },
		func(srv registry.Server, sc Score) { fn(srv, sc.Overall) })
}

// each is EachScore, with score computing each score from its evidence.
func (s *Source) each(ctx context.Context, servers []registry.Server, score func(Evidence) Score, fn func(registry.Server, Score)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return err
	}
	now := s.now()
	tools, err := s.DB.ToolStates(ctx)
	if err != nil {
		return err
	}
	keyErrs := s.keyErrs(servers)
	for i, srv := range servers {
		act, err := s.activity(ctx, srv.ID, now)
		if err != nil {
			return err
		}
		fn(srv, score(s.evidence(ctx, srv, now, keyErrs[i], act, tools[srv.ID])))
	}
	return nil
}

// keyErrs checks the servers' keys as keyErr checks one, in one pass that
// stats a key file verified before instead of reading it again and
// deriving its public key from the seed (identity.Store.CheckAll).
func (s *Source) keyErrs(servers []registry.Server) []string {
	ids, pubs := make([]string, len(servers)), make([]string, len(servers))
	for i, srv := range servers {
		ids[i], pubs[i] = srv.ID, srv.PublicKey
	}
	out := make([]string, len(servers))
	for i, err := range s.DB.Keys().CheckAll(ids, pubs) {
		switch {
		case errors.Is(err, identity.ErrMismatch):
			out[i] = "does not match the registered public key"
		case err != nil:
			out[i] = "missing or unreadable: " + err.Error()
		}
	}
	return out
}
