package mcpproxy

import (
	"context"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// RegistryJournal appends a session's records to the registry's chain,
// signed with the server's key.
type RegistryJournal struct {
	DB     *registry.DB
	Key    *identity.Key
	Server registry.Server
}

// Append implements Journal.
func (j *RegistryJournal) Append(ctx context.Context, ev registry.Event) error {
	ev.ServerID, ev.Server, ev.Client = j.Server.ID, j.Server.Name, j.Server.Client
	_, err := j.DB.Append(ctx, j.Key, ev)
	return err
}
