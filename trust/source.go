package trust

import (
	"context"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// Source gathers evidence from the registry. It verifies the audit chain
// once for all the servers it scores, from the last checkpoint on (only when
// the whole chain does not verify is each server's part checked on its
// own), so scoring every server for "aim-mcp list" costs what was appended
// since the last look.
type Source struct {
	DB *registry.DB
	// Now is the end of the window; zero is the time of each call.
	Now time.Time

	mu        sync.Mutex
	chain     *registry.Verification
	chainErr  error
	stats     map[string]registry.Stats
	approvals []registry.Approval
	loaded    bool
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
	if s.stats, err = s.DB.Stats(ctx); err != nil {
		return err
	}
	if s.approvals, err = s.DB.Approvals(ctx); err != nil {
		return err
	}
	s.loaded = true
	return nil
}

// Evidence gathers what a server's score is computed from.
func (s *Source) Evidence(ctx context.Context, srv registry.Server) (Evidence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return Evidence{}, err
	}
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	ev := Evidence{Server: srv, Now: now}
	switch key, err := s.DB.Key(srv); {
	case err != nil:
		ev.KeyErr = "missing or unreadable: " + err.Error()
	case key.PublicString() != srv.PublicKey:
		ev.KeyErr = "does not match the registered public key"
	}
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
	// Added up as they are read: a server's million records cost one's memory.
	act := &Activity{}
	err := s.DB.EachRecord(ctx, registry.Filter{ServerID: srv.ID, Since: now.Add(-Window), Until: now.Add(time.Nanosecond)},
		func(r registry.Record) error {
			act.Add(r)
			return nil
		})
	if err != nil {
		return Evidence{}, err
	}
	ev.Activity = act
	for _, a := range s.approvals {
		if a.ServerID == srv.ID {
			ev.Approvals = append(ev.Approvals, a)
		}
	}
	if ev.Tools, err = s.DB.Tools(ctx, srv.ID); err != nil {
		return Evidence{}, err
	}
	return ev, nil
}

// Score computes a server's score.
func (s *Source) Score(ctx context.Context, srv registry.Server) (Score, error) {
	ev, err := s.Evidence(ctx, srv)
	if err != nil {
		return Score{}, err
	}
	return Compute(ev), nil
}
