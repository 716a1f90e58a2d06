package aim

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote/aimtest"
)

// TestSecureWithRemoteAIM: an agent given a remote AIM registers there at
// Secure (as the guide's ai_agent), AIM's refusal of an ungranted action
// keeps fn from running, and a granted one runs and is in both AIM's
// verification events and the local chain.
func TestSecureWithRemoteAIM(t *testing.T) {
	h := newHome(t)
	srv := aimtest.New()
	t.Cleanup(srv.Close)
	key := srv.NewAPIKey(aimtest.DefaultOrg)

	a := h.secure(t, "billing", WithAIM(srv.URL, key))
	url, agentID := a.AIM()
	if url != srv.URL || agentID == "" {
		t.Fatalf("AIM() = %q, %q; want %q and an agent id", url, agentID, srv.URL)
	}
	got, ok := srv.FindAgent(agentID)
	if !ok || got.Type != "ai_agent" {
		t.Fatalf("AIM agent %s: found %v, type %q; want ai_agent", agentID, ok, got.Type)
	}
	if a.AgentType() != AIAgent {
		t.Errorf("AgentType() = %q, want %q", a.AgentType(), AIAgent)
	}

	ran := 0
	fn := func(context.Context) error { ran++; return nil }
	err := a.Track(t.Context(), "refund", Low, fn)
	var denied *DeniedError
	if !errors.As(err, &denied) || ran != 0 {
		t.Fatalf("Track of an action AIM does not grant: err %v, ran %d; want a DeniedError and no run", err, ran)
	}

	if err := srv.Grant(agentID, "mcp_tool:refund"); err != nil {
		t.Fatal(err)
	}
	// AIM's earlier answer is kept for aim_verify_ttl; a fresh agent asks again.
	a.Close()
	b := h.secure(t, "billing", WithAIM(srv.URL, key), WithConfig(noVerifyCache()))
	if _, id := b.AIM(); id != agentID {
		t.Fatalf("a second Secure made another AIM agent: %s, want %s", id, agentID)
	}
	if err := b.Track(t.Context(), "refund", Low, fn); err != nil || ran != 1 {
		t.Fatalf("Track of a granted action: err %v, ran %d; want it to run once", err, ran)
	}
	var allowed, refused int
	for _, ev := range srv.VerificationEvents() {
		if ev.AgentID != agentID {
			continue
		}
		switch ev.Status {
		case "success":
			allowed++
		case "failed":
			refused++
		}
	}
	if allowed != 1 || refused != 1 {
		t.Errorf("AIM's verification events: %d allowed, %d refused; want 1 and 1", allowed, refused)
	}
	recs, err := b.AuditLogs(t.Context(), LogFilter{Action: "refund"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	if len(kinds) != 3 || kinds[0] != registry.KindDenied || kinds[1] != registry.KindCall || kinds[2] != registry.KindOutcome {
		t.Errorf("local records of refund: %v; want denied, call, outcome", kinds)
	}
	h.run(t, "audit", "verify")
}

func noVerifyCache() config.Config {
	c := config.Defaults()
	c.AIMVerifyTTL = 0
	return c
}

// TestSecureAIMUnreachable: an AIM that does not answer is the guide's
// connection error, and nothing is registered in the home.
func TestSecureAIMUnreachable(t *testing.T) {
	h := newHome(t)
	srv := aimtest.New()
	key := srv.NewAPIKey(aimtest.DefaultOrg)
	srv.Close() // nothing listens there now
	cfg := config.Defaults()
	cfg.RetryAttempts, cfg.Timeout = 1, time.Second
	_, err := Secure(t.Context(), "billing", WithHome(h.dir), WithConfig(cfg), WithAIM(srv.URL, key))
	var ce *ConnectionError
	if !errors.As(err, &ce) || ce.URL != srv.URL {
		t.Fatalf("Secure with AIM down: %v; want a *ConnectionError for %s", err, srv.URL)
	}
	probe := h.secure(t, "probe")
	if _, err := probe.db.Server(t.Context(), DefaultClient, "billing"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("a failed Secure left a registration (lookup: %v)", err)
	}
}

// TestWithPrivateKey: a key given in code is the identity, is never written
// to a key file, signs records that verify, and a different key for the
// same name is refused rather than replacing it.
func TestWithPrivateKey(t *testing.T) {
	h := newHome(t)
	k, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	a := h.secure(t, "signer", WithPrivateKey(k.Seed()))
	if a.PublicKey() != k.PublicString() {
		t.Fatalf("PublicKey() = %s, want the given key's %s", a.PublicKey(), k.PublicString())
	}
	if err := a.LogAction(t.Context(), "sign", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "keys", a.ID()+".key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the given key was written to a key file (stat: %v)", err)
	}
	h.run(t, "audit", "verify")

	other, _ := identity.Generate()
	_, err = Secure(t.Context(), "signer", WithHome(h.dir), WithConfig(config.Defaults()), WithPrivateKey(other.Seed()))
	if err == nil {
		t.Fatal("Secure with another key for a registered name succeeded; want it refused")
	}
	if _, err := Secure(t.Context(), "x", WithHome(h.dir), WithPrivateKey("not base64!")); err == nil {
		t.Error("a malformed private key was accepted")
	}
}

func TestAgentType(t *testing.T) {
	h := newHome(t)
	if got := h.secure(t, "server-like", WithAgentType(MCPServer)).AgentType(); got != MCPServer {
		t.Errorf("WithAgentType(MCPServer): %q", got)
	}
	if got := h.secure(t, "team", WithAgentType(MultiAgentTeam)).AgentType(); got != MultiAgentTeam {
		t.Errorf("WithAgentType(MultiAgentTeam): %q", got)
	}
	if _, err := Secure(t.Context(), "bad", WithHome(h.dir), WithAgentType("robot")); err == nil {
		t.Error(`WithAgentType("robot") was accepted`)
	}
}

// TestComplianceReport: the report covers the agent's own actions, in
// each format, and refuses an unknown type or format.
func TestComplianceReport(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "reporter")
	other := h.secure(t, "someone-else")
	for _, ag := range []*Agent{a, a, other} {
		if err := ag.Track(t.Context(), "lookup", Low, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	b, err := a.ComplianceReport(t.Context(), "soc2", time.Time{}, time.Time{}, "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Scope string `json:"scope"`
		Calls []struct {
			Server string `json:"server"`
		} `json:"calls"`
		Chain struct {
			Intact bool `json:"intact"`
		} `json:"audit_chain"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Calls) != 2 || r.Calls[0].Server != "reporter" || !r.Chain.Intact {
		t.Errorf("report: scope %q, %d calls, chain intact %v; want reporter's 2 calls and an intact chain", r.Scope, len(r.Calls), r.Chain.Intact)
	}
	c, err := a.ComplianceReport(t.Context(), "gdpr", time.Now().Add(-time.Hour), time.Now().Add(time.Minute), "csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(c)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Errorf("CSV: %d rows (%v); want a header and 2 calls", len(rows), err)
	}
	p, err := a.ComplianceReport(t.Context(), "hipaa", time.Time{}, time.Time{}, "pdf")
	if err != nil || !bytes.HasPrefix(p, []byte("%PDF-")) {
		t.Errorf("PDF: %v, starts %q", err, p[:min(len(p), 8)])
	}
	if _, err := a.ComplianceReport(t.Context(), "iso", time.Time{}, time.Time{}, "json"); err == nil {
		t.Error("an unknown report type was accepted")
	}
	if _, err := a.ComplianceReport(t.Context(), "soc2", time.Time{}, time.Time{}, "xml"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

// TestAIMDownDecidesByDeclaredRisk: with AIM unreachable, the fail mode
// goes by the risk the code declared, as the proxy's goes by the tool's
// annotations: fail_mode open lets a low-risk action run and refuses a
// high-risk one at once, whatever its name suggests.
func TestAIMDownDecidesByDeclaredRisk(t *testing.T) {
	h := newHome(t)
	srv := aimtest.New()
	t.Cleanup(srv.Close)
	key := srv.NewAPIKey(aimtest.DefaultOrg)
	cfg := noVerifyCache()
	cfg.FailMode, cfg.RetryAttempts, cfg.Timeout = "open", 1, time.Second
	a := h.secure(t, "lookup-agent", WithAIM(srv.URL, key), WithConfig(cfg))
	srv.SetDown(true)

	ran := 0
	fn := func(context.Context) error { ran++; return nil }
	if err := a.Track(t.Context(), "lookup", Low, fn); err != nil || ran != 1 {
		t.Fatalf("a low-risk action with AIM down and fail_mode open: err %v, ran %d; want it run", err, ran)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err := a.Track(ctx, "lookup", High, fn)
	var denied *DeniedError
	if !errors.As(err, &denied) || denied.Decision != "fail_closed" || ran != 1 {
		t.Fatalf("a high-risk action with AIM down: err %v, ran %d; want a fail_closed refusal and no run", err, ran)
	}
}
