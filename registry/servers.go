package registry

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/redact"
)

// Agent types, in AIM's terms (the SDK guide's agent_type): what install
// and the proxy register is an MCP server; the Go package registers agents.
const (
	MCPServer      = "mcp_server"
	AIAgent        = "ai_agent"
	MultiAgentTeam = "multi_agent_team"
)

// ValidAgentType reports whether t is one of the agent types.
func ValidAgentType(t string) bool { return t == MCPServer || t == AIAgent || t == MultiAgentTeam }

// Server states.
const (
	StatusActive  = "active"
	StatusRemoved = "removed" // gone from the client's config
	StatusPurged  = "purged"  // uninstall --purge: key deleted, records kept
)

// Server is a registered MCP server: one per (client, name).
type Server struct {
	ID           string    `json:"id"`
	Client       string    `json:"client"`
	Name         string    `json:"name"`
	AgentType    string    `json:"agent_type"`
	Command      string    `json:"command"`
	Args         []string  `json:"args"`
	EnvNames     []string  `json:"env_names"` // names only: values never leave the client's config
	PublicKey    string    `json:"public_key"`
	Status       string    `json:"status"`
	RemoteID     string    `json:"remote_id,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Fingerprint is the short name of the server's public key.
func (s Server) Fingerprint() string {
	pub, err := identity.ParsePublicKey(s.PublicKey)
	if err != nil {
		return ""
	}
	return identity.Fingerprint(pub)
}

// Registration is what a client's config says about a server.
type Registration struct {
	Client   string
	Name     string
	Command  string
	Args     []string
	EnvNames []string
	// AgentType is set when the server is first registered; empty means
	// MCPServer.
	AgentType string
	// Key, when set, is a new registration's identity in place of a new
	// key (or AIM_PRIVATE_KEY): like that variable's, it is not copied
	// into a key file, so its holder must give it again each time.
	Key *identity.Key
}

// Register records a server and gives it a key, or finds the one already
// there. It is idempotent per (client, name): the id and key survive
// reinstalls, and a changed command updates the record. created says whether
// the server is new.
func (r *DB) Register(ctx context.Context, in Registration) (s Server, created bool, err error) {
	out, err := r.RegisterAll(ctx, []Registration{in})
	if err != nil {
		return Server{}, false, err
	}
	return out[0].Server, out[0].Created, nil
}

// Registered is one server of RegisterAll's answer.
type Registered struct {
	Server
	Created bool
}

// RegisterAll registers many servers as Register registers one, in one
// transaction, with the new keys made durable together: the cost of
// installing a config is linear in its servers, not one disk flush each.
// Either every server is registered or none is.
func (r *DB) RegisterAll(ctx context.Context, ins []Registration) ([]Registered, error) {
	for _, in := range ins {
		if in.Client == "" || in.Name == "" {
			return nil, errors.New("register: client and name are required")
		}
		if in.AgentType != "" && !ValidAgentType(in.AgentType) {
			return nil, fmt.Errorf("register %q: agent type %q is not %s, %s or %s", in.Name, in.AgentType, MCPServer, AIAgent, MultiAgentTeam)
		}
	}
	tx, err := r.db.BeginTx(ctx, nil) // IMMEDIATE: two proxies starting at once register once
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer tx.Rollback()
	// AIM_PRIVATE_KEY, when set, is the identity (and stays where the
	// user keeps it: it is not copied into a key file).
	envKey, err := identity.FromEnv()
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	// The servers already there, read in one query per client rather than
	// one per server: ten thousand lookups would cost more than the inserts.
	known, err := serversOf(ctx, tx, ins)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	// Prepared once: parsing the SQL again for each of ten thousand
	// servers would cost more than running it.
	insert, err := tx.PrepareContext(ctx, `INSERT INTO servers
		(id, client, name, agent_type, command, args, env_names, public_key, status, registered_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer insert.Close()
	var newIDs []string
	var newKeys []*identity.Key
	var supply *keySupply
	out := make([]Registered, 0, len(ins))
	now := time.Now()
	for _, in := range ins {
		// The argv is stored for people to read: its secrets never are.
		in.Args = redact.Argv(in.Args, nil)
		if in.Args == nil {
			in.Args = []string{}
		}
		if in.EnvNames == nil {
			in.EnvNames = []string{}
		}
		s, found := known[clientName{in.Client, in.Name}]
		created := false
		switch {
		case !found:
			s = Server{
				ID: uuid.NewString(), Client: in.Client, Name: in.Name, AgentType: cmp.Or(in.AgentType, MCPServer),
				Command: in.Command, Args: in.Args, EnvNames: in.EnvNames,
				Status: StatusActive, RegisteredAt: now, UpdatedAt: now,
			}
			key := cmp.Or(in.Key, envKey)
			if key == nil {
				if supply == nil {
					supply = newKeySupply()
					defer supply.stop()
				}
				if key, err = supply.next(); err != nil {
					return nil, err
				}
				newIDs, newKeys = append(newIDs, s.ID), append(newKeys, key)
			}
			s.PublicKey = key.PublicString()
			args, _ := json.Marshal(s.Args)
			envs, _ := json.Marshal(s.EnvNames)
			if _, err := insert.ExecContext(ctx,
				s.ID, s.Client, s.Name, s.AgentType, s.Command, string(args), string(envs),
				s.PublicKey, s.Status, fmtTime(now), fmtTime(now)); err != nil {
				return nil, fmt.Errorf("register %q: %w", in.Name, err)
			}
			created = true
		case s.Command == in.Command && slices.Equal(s.Args, in.Args) &&
			slices.Equal(s.EnvNames, in.EnvNames) && s.Status == StatusActive:
			// Already registered as it is.
		default:
			s.Command, s.Args, s.EnvNames, s.Status, s.UpdatedAt = in.Command, in.Args, in.EnvNames, StatusActive, now
			args, _ := json.Marshal(s.Args)
			envs, _ := json.Marshal(s.EnvNames)
			if _, err := tx.ExecContext(ctx, `UPDATE servers SET command = ?, args = ?, env_names = ?,
				status = ?, updated_at = ? WHERE id = ?`,
				s.Command, string(args), string(envs), s.Status, fmtTime(now), s.ID); err != nil {
				return nil, fmt.Errorf("register %q: %w", in.Name, err)
			}
		}
		known[clientName{in.Client, in.Name}] = s
		out = append(out, Registered{Server: s, Created: created})
	}
	// The keys are on disk before the rows that name them are committed.
	if err := r.keys.SaveAll(newIDs, newKeys); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if err := tx.Commit(); err != nil {
		for _, id := range newIDs {
			r.keys.Remove(id)
		}
		return nil, fmt.Errorf("register: %w", err)
	}
	return out, nil
}

// Server finds a server by client and name.
func (r *DB) Server(ctx context.Context, client, name string) (Server, error) {
	s, err := scanServer(r.db.QueryRowContext(ctx, serverSelect+` WHERE client = ? AND name = ?`, client, name))
	if err != nil {
		return Server{}, fmt.Errorf("server %q: %w", name, err)
	}
	return s, nil
}

// ServerByID finds a server by id.
func (r *DB) ServerByID(ctx context.Context, id string) (Server, error) {
	s, err := scanServer(r.db.QueryRowContext(ctx, serverSelect+` WHERE id = ?`, id))
	if err != nil {
		return Server{}, fmt.Errorf("server %q: %w", id, err)
	}
	return s, nil
}

// FindServers returns the servers called name, of any client.
func (r *DB) FindServers(ctx context.Context, name string) ([]Server, error) {
	all, err := r.Servers(ctx)
	if err != nil {
		return nil, err
	}
	var out []Server
	for _, s := range all {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out, nil
}

// Servers lists every registered server, by client then name.
func (r *DB) Servers(ctx context.Context) ([]Server, error) {
	return r.servers(ctx, serverSelect, scanServer)
}

// ServersBrief lists every registered server as Servers does, without
// their Args and EnvNames (nil): two JSON columns a row that a list of
// every server, scored and shown by name, does not read. At ten thousand
// servers their decoding is a fair part of "aim-mcp list".
func (r *DB) ServersBrief(ctx context.Context) ([]Server, error) {
	return r.servers(ctx, briefSelect, scanBrief)
}

func (r *DB) servers(ctx context.Context, query string, scan func(scanner) (Server, error)) ([]Server, error) {
	// The count sizes the list: no copy of it as it grows. A server
	// registered in between only costs that copy.
	var n int
	r.db.QueryRowContext(ctx, `SELECT count(*) FROM servers`).Scan(&n)
	// In the table's order, sorted below: ORDER BY would walk the
	// (client, name) index and look each row up in the table.
	rows, err := r.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	defer rows.Close()
	var out []Server
	if n > 0 {
		out = make([]Server, 0, n)
	}
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list servers: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	// As ORDER BY client, name: byte order (SQLite's BINARY collation),
	// and the pair is unique.
	slices.SortFunc(out, func(a, b Server) int {
		return cmp.Or(strings.Compare(a.Client, b.Client), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// SetStatus marks a server active or removed.
func (r *DB) SetStatus(ctx context.Context, id, status string) error {
	res, err := r.db.ExecContext(ctx, `UPDATE servers SET status = ?, updated_at = ? WHERE id = ? AND status != ?`,
		status, fmtTime(time.Now()), id, status)
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	_ = res
	return nil
}

// SetRemoteID links a server to its agent in a remote AIM.
func (r *DB) SetRemoteID(ctx context.Context, id, remoteID, publicKey string) error {
	_, err := r.db.ExecContext(ctx, `UPDATE servers SET remote_id = ?, public_key = ?, updated_at = ? WHERE id = ?`,
		remoteID, publicKey, fmtTime(time.Now()), id)
	if err != nil {
		return fmt.Errorf("set remote id: %w", err)
	}
	return nil
}

// Purge deletes a server's key and marks it purged. The row stays, with its
// public key, because the audit chain is evidence: its records must still
// verify after the server is gone.
func (r *DB) Purge(ctx context.Context, id string) error {
	if _, err := r.db.ExecContext(ctx, `UPDATE servers SET status = ?, updated_at = ? WHERE id = ?`,
		StatusPurged, fmtTime(time.Now()), id); err != nil {
		return fmt.Errorf("purge %q: %w", id, err)
	}
	return r.keys.Remove(id)
}

type clientName struct{ client, name string }

// serversOf reads the registered servers of the clients of ins, by client
// and name.
func serversOf(ctx context.Context, tx *sql.Tx, ins []Registration) (map[clientName]Server, error) {
	out := map[clientName]Server{}
	seen := map[string]bool{}
	for _, in := range ins {
		if seen[in.Client] {
			continue
		}
		seen[in.Client] = true
		rows, err := tx.QueryContext(ctx, serverSelect+` WHERE client = ?`, in.Client)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			s, err := scanServer(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[clientName{s.Client, s.Name}] = s
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Key loads a server's private key.
func (r *DB) Key(s Server) (*identity.Key, error) { return r.keys.Load(s.ID, s.PublicKey) }

const serverSelect = `SELECT id, client, name, agent_type, command, args, env_names, public_key,
	status, remote_id, registered_at, updated_at FROM servers`

const briefSelect = `SELECT id, client, name, agent_type, command, public_key,
	status, remote_id, registered_at, updated_at FROM servers`

type scanner interface{ Scan(...any) error }

// scanBrief reads a row of briefSelect.
func scanBrief(row scanner) (Server, error) {
	var s Server
	var reg, upd string
	if err := row.Scan(&s.ID, &s.Client, &s.Name, &s.AgentType, &s.Command,
		&s.PublicKey, &s.Status, &s.RemoteID, &reg, &upd); err != nil {
		return Server{}, err
	}
	s.RegisteredAt, s.UpdatedAt = parseTime(reg), parseTime(upd)
	return s, nil
}

func scanServer(row scanner) (Server, error) {
	var s Server
	var args, envs, reg, upd string
	err := row.Scan(&s.ID, &s.Client, &s.Name, &s.AgentType, &s.Command, &args, &envs,
		&s.PublicKey, &s.Status, &s.RemoteID, &reg, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return Server{}, ErrNotFound
	}
	if err != nil {
		return Server{}, err
	}
	json.Unmarshal([]byte(args), &s.Args)
	json.Unmarshal([]byte(envs), &s.EnvNames)
	s.RegisteredAt, s.UpdatedAt = parseTime(reg), parseTime(upd)
	return s, nil
}

// keySupply generates keys on the other cores while RegisterAll writes
// rows: ten thousand new servers are ten thousand key pairs to derive. A
// few keys made ahead and never asked for are dropped.
type keySupply struct {
	keys chan keyOrErr
	done chan struct{}
	wg   sync.WaitGroup
}

type keyOrErr struct {
	key *identity.Key
	err error
}

func newKeySupply() *keySupply {
	k := &keySupply{keys: make(chan keyOrErr, 32), done: make(chan struct{})}
	for range runtime.GOMAXPROCS(0) {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for {
				key, err := identity.Generate()
				select {
				case k.keys <- keyOrErr{key, err}:
				case <-k.done:
					return
				}
			}
		}()
	}
	return k
}

func (k *keySupply) next() (*identity.Key, error) {
	ke := <-k.keys
	return ke.key, ke.err
}

func (k *keySupply) stop() {
	close(k.done)
	k.wg.Wait()
}
