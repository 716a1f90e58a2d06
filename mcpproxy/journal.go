package mcpproxy

import (
	"context"
	"sync"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// RegistryJournal commits a session's records to a spool of its own in the
// registry's home, one write per commit, and leaves it to the session's
// mover to chain and sign them into the registry (see registry.Session).
// The spool is created by the first Append.
type RegistryJournal struct {
	DB     *registry.DB
	Key    *identity.Key
	Server registry.Server

	once    sync.Once
	session *registry.Session
	err     error
}

func (j *RegistryJournal) start(ctx context.Context) error {
	j.once.Do(func() { j.session, j.err = j.DB.StartSession(ctx, j.Server, j.Key) })
	return j.err
}

// Append implements Journal: the records are in the spool when it returns.
func (j *RegistryJournal) Append(ctx context.Context, evs ...registry.Event) error {
	if err := j.start(ctx); err != nil {
		return err
	}
	return j.session.Append(evs...)
}

// TryAppend implements TryJournal. A spool never waits for another
// process, so it is Append.
func (j *RegistryJournal) TryAppend(ctx context.Context, evs ...registry.Event) error {
	return j.Append(ctx, evs...)
}

// Close implements Closer: what the spool still holds is moved into the
// chain, and the spool is removed.
func (j *RegistryJournal) Close(ctx context.Context) error {
	if j.session == nil {
		return nil
	}
	return j.session.Close(ctx)
}
