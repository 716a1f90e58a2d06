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
	j.once.Do(func() { j.signer = j.Key.Signer(64) })
	for i := range evs {
		evs[i].ServerID, evs[i].Server, evs[i].Client = j.Server.ID, j.Server.Name, j.Server.Client
	}
	_, err := j.DB.AppendAll(ctx, j.signer, evs)
	return err
}
