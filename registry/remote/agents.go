package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opena2a-org/aim-mcp/identity"
)

// AgentType is what an MCP server is, in AIM's terms.
const AgentType = "mcp_server"

// aimAgentType is the type AIM is told: it knows ai_agent and mcp_server
// only, so the SDK guide's multi_agent_team registers as ai_agent (the
// description still says what it is).
func aimAgentType(t string) string {
	switch t {
	case "", AgentType:
		return AgentType
	}
	return "ai_agent"
}

// Agent is an AIM agent as the API-key lookup shows it.
type Agent struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	DisplayName string  `json:"display_name"`
	AgentType   string  `json:"agent_type"`
	Status      string  `json:"status"` // verified, pending, suspended, ...
	PublicKey   string  `json:"public_key"`
	Trust       float64 `json:"trust_score"` // 0–1, rounded to 2 decimals
	Compromised bool    `json:"is_compromised"`
	// Capabilities are the granted capability types.
	Capabilities []string `json:"-"`
}

// Agent looks an agent up by id or by name (GET /sdk-api/agents/:identifier,
// API key). A missing agent is an error matching ErrNotFound.
func (c *Client) Agent(ctx context.Context, identifier string) (*Agent, error) {
	if err := c.needAPIKey(); err != nil {
		return nil, err
	}
	var out struct {
		Agent *struct {
			Agent
			Capabilities []json.RawMessage `json:"capabilities"`
		} `json:"agent"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/sdk-api/agents/" + url.PathEscape(identifier),
		auth: authAPIKey, replayable: true}, &out)
	if err != nil {
		return nil, err
	}
	if out.Agent == nil || out.Agent.ID == "" {
		return nil, &StatusError{Method: http.MethodGet, Path: "/api/v1/sdk-api/agents/…", Status: http.StatusOK, Message: "the answer has no agent"}
	}
	a := out.Agent.Agent
	for _, raw := range out.Agent.Capabilities {
		if s := capabilityName(raw); s != "" {
			a.Capabilities = append(a.Capabilities, s)
		}
	}
	return &a, nil
}

// capabilityName reads a capability listed as a string or as an object.
func capabilityName(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		A string `json:"capabilityType"`
		B string `json:"capability_type"`
		C string `json:"type"`
	}
	json.Unmarshal(raw, &o)
	return first(o.A, o.B, o.C)
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (c *Client) needAPIKey() error {
	if c.opt.APIKey == "" {
		return &AuthenticationError{Status: http.StatusUnauthorized, Message: "no API key configured", Credential: credAPIKey, URL: c.URL()}
	}
	return nil
}

// Registration is what public registration sends.
type Registration struct {
	Name          string `json:"name"`
	DisplayName   string `json:"display_name"`
	Description   string `json:"description"`
	AgentType     string `json:"agent_type"`
	Version       string `json:"version,omitempty"`
	RepositoryURL string `json:"repository_url,omitempty"`
}

// Registered is AIM's answer to a registration. Key is the server-issued
// private key: it exists only in this answer (as far as an API key goes).
type Registered struct {
	AgentID   string
	Name      string
	PublicKey string
	Status    string
	// Trust is on the 0–1 scale of every other AIM route; the
	// registration answer says 0–100 and is converted.
	Trust float64
	Key   *identity.Key
}

// Register creates an agent (POST /public/agents/register, API key). AIM
// generates the key pair. Registration is not idempotent: use Enroll,
// which looks the name up first.
func (c *Client) Register(ctx context.Context, in Registration) (*Registered, error) {
	if err := c.needAPIKey(); err != nil {
		return nil, err
	}
	if in.AgentType == "" {
		in.AgentType = AgentType
	}
	var out struct {
		AgentID    string  `json:"agent_id"`
		Name       string  `json:"name"`
		PublicKey  string  `json:"public_key"`
		PrivateKey string  `json:"private_key"`
		Status     string  `json:"status"`
		Trust      float64 `json:"trust_score"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/public/agents/register",
		body: jsonBody(in), auth: authRegister}, &out)
	if err != nil {
		return nil, err
	}
	r := &Registered{AgentID: out.AgentID, Name: out.Name, PublicKey: out.PublicKey, Status: out.Status, Trust: out.Trust / 100}
	if r.AgentID == "" || out.PrivateKey == "" {
		return nil, &StatusError{Method: http.MethodPost, Path: "/api/v1/public/agents/register", Status: http.StatusCreated,
			Message: "the answer has no agent id or no key"}
	}
	key, err := identity.ParsePrivateKey(out.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("AIM's key for agent %s: %v", r.AgentID, err)
	}
	if key.PublicString() != r.PublicKey {
		return nil, fmt.Errorf("AIM's key for agent %s does not match its public key", r.AgentID)
	}
	r.Key = key
	return r, nil
}

// AgentName is the AIM agent name of an MCP server: its name with every
// run of characters other than ASCII letters, digits, '.', '_' and '-'
// replaced by '-', so that it survives in a URL path (AIM looks agents up
// by name there). The original name is the display name.
func AgentName(server string) string {
	var b strings.Builder
	dash := false
	for _, r := range server {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-.")
	if name == "" {
		return "mcp-server"
	}
	return name
}

// KeyName is the name under which an agent's server-issued key is kept in
// an identity.Store: the file is <agent id>.aim.key, beside the servers'
// own <server id>.key files, which keep signing the local audit chain.
func KeyName(agentID string) string { return agentID + ".aim" }

// Enrollment is a server to make sure of in AIM.
type Enrollment struct {
	Name        string // the AIM agent name (see AgentName)
	DisplayName string
	Description string
	Version     string
	// Type is the agent type (the SDK guide's agent_type); empty means
	// an MCP server.
	Type string
	// AgentID is the agent the server was linked to before, if any.
	AgentID string
	// Alternates lets Enroll register the agent as Name-2, Name-3, ...
	// when Name belongs to an agent whose key is not here (another home,
	// or this one before its keys were purged). Without it, that is a
	// KeyUnknownError.
	Alternates bool
}

// maxAlternates bounds the names Enroll tries.
const maxAlternates = 20

// Enrolled is a server's agent in AIM, with the key to act as it.
type Enrolled struct {
	AgentID string
	Name    string
	Status  string
	Trust   float64 // 0–1
	Created bool    // registered now (false: found)
	Key     *identity.Key
}

// Identity is how the agent signs requests.
func (e Enrolled) Identity() Identity { return Identity{AgentID: e.AgentID, Key: e.Key} }

// Enroll makes sure the server has an agent in AIM whose key is in keys,
// and is idempotent: it looks the agent up (by its known id, then by name)
// before it registers one. A found agent is used only when keys holds its
// private key. A known agent whose key here differs from AIM's (rotated
// in AIM) is a KeyMismatchError; a name held by an agent whose key is not
// here is a KeyUnknownError, or, with Alternates, the next free name. A
// new agent's key is saved (mode 0600) before Enroll returns.
func (c *Client) Enroll(ctx context.Context, keys identity.Store, in Enrollment) (Enrolled, error) {
	if in.AgentID != "" {
		a, err := c.Agent(ctx, in.AgentID)
		switch {
		case err == nil:
			e, lerr := c.link(keys, a, in.Name)
			var ku *KeyUnknownError
			if !errors.As(lerr, &ku) || keys.Exists(KeyName(a.ID)) {
				return e, lerr
			}
			// The key was deleted here (uninstall --purge): the agent is
			// left to AIM, and the server gets a name of its own below.
		case !errors.Is(err, ErrNotFound):
			return Enrolled{}, err
		}
		// Deleted in AIM, or another AIM: find or register it anew.
	}
	name := in.Name
	for n := 2; ; n++ {
		e, err := c.enrollName(ctx, keys, in, name)
		var ku *KeyUnknownError
		if !in.Alternates || !errors.As(err, &ku) || n > maxAlternates {
			return e, err
		}
		name = fmt.Sprintf("%s-%d", in.Name, n)
	}
}

// enrollName links the agent called name, or registers it.
func (c *Client) enrollName(ctx context.Context, keys identity.Store, in Enrollment, name string) (Enrolled, error) {
	a, err := c.Agent(ctx, name)
	switch {
	case err == nil:
		return c.link(keys, a, name)
	case !errors.Is(err, ErrNotFound):
		return Enrolled{}, err
	}
	r, err := c.Register(ctx, Registration{Name: name, DisplayName: first(in.DisplayName, in.Name),
		Description: in.Description, AgentType: aimAgentType(in.Type), Version: in.Version})
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && strings.Contains(se.Message, "duplicate key") {
			// Someone registered the name meanwhile (or an earlier answer was lost).
			if a, lerr := c.Agent(ctx, name); lerr == nil {
				return c.link(keys, a, name)
			}
		}
		return Enrolled{}, err
	}
	if err := keys.Save(KeyName(r.AgentID), r.Key); err != nil {
		return Enrolled{}, fmt.Errorf("keep AIM's key for agent %s: %w", r.AgentID, err)
	}
	return Enrolled{AgentID: r.AgentID, Name: first(r.Name, name), Status: r.Status, Trust: r.Trust, Created: true, Key: r.Key}, nil
}

// link uses an agent that exists, when its key is here. AIM_PRIVATE_KEY
// does not count: a proxy's environment is its MCP server's, which may
// hold an AIM key of the server's own.
func (c *Client) link(keys identity.Store, a *Agent, name string) (Enrolled, error) {
	k, err := keys.LoadFile(KeyName(a.ID))
	switch {
	case err == nil && k.PublicString() != a.PublicKey:
		return Enrolled{}, &KeyMismatchError{Name: first(a.Name, name), AgentID: a.ID}
	case err != nil:
		return Enrolled{}, &KeyUnknownError{Name: first(a.Name, name), AgentID: a.ID, KeyPath: keys.Path(KeyName(a.ID))}
	}
	return Enrolled{AgentID: a.ID, Name: first(a.Name, name), Status: a.Status, Trust: a.Trust, Key: k}, nil
}

// RequestCapability asks an AIM admin to grant a capability to an agent
// (POST /sdk-api/agents/:id/capability-requests, API key). A request that
// is already pending, or a capability already granted, is not an error.
// aim-mcp never grants capabilities itself, though the API key could.
func (c *Client) RequestCapability(ctx context.Context, agentID, capability, reason string) error {
	if err := c.needAPIKey(); err != nil {
		return err
	}
	if len(reason) < 10 {
		reason += strings.Repeat(".", 10-len(reason))
	}
	// The reference names the field capability_type; later AIM versions
	// read capabilityType. Both are sent; each ignores the other.
	body := jsonBody(map[string]string{"capability_type": capability, "capabilityType": capability, "reason": reason})
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/sdk-api/agents/" + url.PathEscape(agentID) + "/capability-requests",
		body: body, auth: authAPIKey, replayable: true}, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusConflict {
		return nil
	}
	return err
}

// RotateCredentials gives an agent a new key pair in AIM (POST
// /agents/:id/rotate-credentials), which only an AIM user may do: token is
// that user's bearer token (a JWT from AIM's web UI), never stored. AIM
// generates the pair and answers the private key; from then on AIM refuses
// signatures by the old key. Not replayable: a lost answer would lose the
// new key.
func (c *Client) RotateCredentials(ctx context.Context, token, agentID string) (*identity.Key, error) {
	if token == "" {
		return nil, &AuthenticationError{Status: http.StatusUnauthorized, Message: "no user token", Credential: credUser, URL: c.URL()}
	}
	var out struct {
		PublicKey  string `json:"public_key"`
		PrivateKey string `json:"private_key"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/agents/" + url.PathEscape(agentID) + "/rotate-credentials",
		auth: authUser, token: token}, &out)
	if err != nil {
		return nil, err
	}
	key, err := identity.ParsePrivateKey(out.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("AIM's new key for agent %s: %v", agentID, err)
	}
	if out.PublicKey != "" && key.PublicString() != out.PublicKey {
		return nil, fmt.Errorf("AIM's new key for agent %s does not match its public key", agentID)
	}
	return key, nil
}
