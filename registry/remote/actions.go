package remote

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Capability is the capability (and action type) of an MCP tool: the
// namespace keeps tools apart from AIM's own action types, and lets an
// admin grant every tool of a server at once with "mcp_tool:*".
func Capability(tool string) string { return "mcp_tool:" + tool }

// Action is one action to verify.
type Action struct {
	Type     string         // the action_type; for a tool, Capability(tool)
	Resource string         // what it acts on; for a tool, its name
	Metadata map[string]any // context for AIM's audit row (never secrets)
}

// Decision is AIM's allowance of an action.
type Decision struct {
	AuditID string // AIM's audit row, to log the outcome against
	Reason  string
}

// VerifyAction asks AIM whether the agent may take the action
// (POST /agents/:id/verify-action, Ed25519). It is AIM's capability check:
// allowed only when the agent is verified, not compromised, and holds a
// granted capability equal to the action type (or a granted "prefix*").
// A denial is a *VerificationError carrying AIM's reason.
func (c *Client) VerifyAction(ctx context.Context, id Identity, a Action) (*Decision, error) {
	body := padded(func(pad string) any {
		md := map[string]any{}
		for k, v := range a.Metadata {
			md[k] = v
		}
		if pad != "" {
			md["padding"] = pad // AIM's middleware fails on signed bodies under 200 bytes
		}
		return map[string]any{"action_type": a.Type, "resource": a.Resource, "metadata": md, "protocol": "mcp"}
	})
	var out struct {
		Allowed bool   `json:"allowed"`
		AuditID string `json:"audit_id"`
		Reason  string `json:"reason"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/agents/" + url.PathEscape(id.AgentID) + "/verify-action",
		body: body, auth: authSigned, id: id, replayable: true, action: a.Type}, &out)
	if err != nil {
		return nil, err
	}
	if !out.Allowed {
		return nil, &VerificationError{Action: a.Type, Reason: c.redact(out.Reason), AuditID: out.AuditID}
	}
	return &Decision{AuditID: out.AuditID, Reason: out.Reason}, nil
}

// Result is how an action ended.
type Result struct {
	Success bool
	Error   string
	Detail  map[string]any
}

// LogAction reports an action's outcome against its audit id
// (POST /agents/:id/log-action/:audit_id, Ed25519). AIM answers success
// and, at the reference commit, stores nothing: the local chain is the
// record that counts.
func (c *Client) LogAction(ctx context.Context, id Identity, auditID string, r Result) error {
	body := padded(func(pad string) any {
		res := map[string]any{}
		for k, v := range r.Detail {
			res[k] = v
		}
		if pad != "" {
			res["padding"] = pad
		}
		m := map[string]any{"success": r.Success, "result": res}
		if r.Error != "" {
			m["error"] = r.Error
		}
		return m
	})
	return c.do(ctx, request{method: http.MethodPost,
		path: "/api/v1/agents/" + url.PathEscape(id.AgentID) + "/log-action/" + url.PathEscape(auditID),
		body: body, auth: authSigned, id: id, replayable: true}, nil)
}

// Trust is AIM's trust score of an agent.
type Trust struct {
	Score        float64            // 0–1
	Factors      map[string]float64 // per factor, 0–1; empty from the API-key lookup
	CalculatedAt time.Time
	Source       string // "trust-score" or "agent" (the API-key lookup, 2 decimals)
}

// TrustScore reads AIM's score for the agent: GET /agents/:id/trust-score
// signed with the agent's key, or, when that is refused and an API key is
// set, the agent record's trust_score. Both are on the 0–1 scale.
func (c *Client) TrustScore(ctx context.Context, id Identity) (*Trust, error) {
	var out struct {
		Score        float64            `json:"score"`
		Factors      map[string]float64 `json:"factors"`
		CalculatedAt time.Time          `json:"calculated_at"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/agents/" + url.PathEscape(id.AgentID) + "/trust-score",
		auth: authSigned, id: id, replayable: true}, &out)
	if err == nil {
		return &Trust{Score: out.Score, Factors: out.Factors, CalculatedAt: out.CalculatedAt, Source: "trust-score"}, nil
	}
	if Unavailable(err) || !c.HasAPIKey() {
		return nil, err
	}
	a, aerr := c.Agent(ctx, id.AgentID)
	if aerr != nil {
		return nil, err
	}
	return &Trust{Score: a.Trust, Source: "agent"}, nil
}
