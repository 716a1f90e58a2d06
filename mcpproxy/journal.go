package mcpproxy

import (
	"context"
	"sync"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// RegistryJournal appends a session's records to the registry's chain,
// signed with the server's key.
type RegistryJournal struct {
	DB     *registry.DB
	Key    *identity.Key
	Server registry.Server

	once   sync.Once
	signer *identity.Signer
}

// Append implements Journal.
func (j *RegistryJournal) Append(ctx context.Context, evs ...registry.Event) error {
	_, err := j.DB.AppendAll(ctx, j.sign(evs), evs)
	return err
}

// TryAppend implements TryJournal.
func (j *RegistryJournal) TryAppend(ctx context.Context, evs ...registry.Event) error {
	_, err := j.DB.TryAppendAll(ctx, j.sign(evs), evs)
	return err
}

// sign stamps the session's server on evs and returns its signer.
func (j *RegistryJournal) sign(evs []registry.Event) *identity.Signer {
	j.once.Do(func() { j.signer = j.Key.Signer(64) })
	for i := range evs {
		evs[i].ServerID, evs[i].Server, evs[i].Client = j.Server.ID, j.Server.Name, j.Server.Client
	}
	return j.signer
}

// Checkpoint implements Checkpointer.
func (j *RegistryJournal) Checkpoint(ctx context.Context) error { return j.DB.Checkpoint(ctx) }
