//go:build linux

package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestPoisonedServer checks what servers tell the model, end to end, with
// the official client and a poisoned server (node/poisoned-server.mjs)
// wrapped by `aim-mcp install`. Install scans the server and quarantines
// the tool whose description tells the model to read the user's MCP config;
// the client never sees it listed, and a call to it is refused with the way
// to release it. Terminal escapes and tag characters in a result never reach
// the client, nor does a form that asks for a password. Once the person
// releases the tool with `aim-mcp pins accept`, it is listed and runs, and
// the chain, with all of it recorded, verifies.
func TestPoisonedServer(t *testing.T) {
	if relayMode() {
		t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no scanner")
	}
	h := setup(t)
	dir := runDir(t)
	user := userHome(dir)
	writeConfig(t, user, "dashboard_addr: "+freeAddr(t)+"\nnotify: none\n")
	aimHome := filepath.Join(dir, "aim-home")
	cli := cliAs(t, user)
	cmdline, out := installOne(t, user, aimHome, "poisoned", entry{Command: "node", Args: []string{filepath.Join(h.nodeDir, "poisoned-server.mjs")}})
	if !strings.Contains(out, "aim-mcp pins accept poisoned fact") {
		t.Errorf("install does not say it quarantined fact and how to release it:\n%s", out)
	}

	r := h.startDriver(t, "poison", "poison", dir, nil, cmdline).finish(t)
	res, _ := r.doc["results"].(map[string]any)
	t.Logf("quarantined fact: %v", res["fact"])
	t.Logf("weather as the client saw it: %v", res["weather"])
	t.Logf("signup: %v", res["signup"])

	var recs []struct {
		Kind     string          `json:"kind"`
		Tool     string          `json:"tool"`
		Decision string          `json:"decision"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(cli("logs", "--home", aimHome, "--json")), &recs); err != nil {
		t.Fatalf("aim-mcp logs --json: %v", err)
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		switch {
		case rec.Kind == "drift" && rec.Tool == "fact" && rec.Decision == "quarantined" && strings.Contains(string(rec.Data), "exfil."):
			seen["fact quarantined (drift record with the finding)"] = true
		case rec.Kind == "denied" && rec.Tool == "fact":
			seen["the call to fact refused (denied record)"] = true
		case rec.Kind == "neutralised":
			seen["the escapes removed (neutralised record)"] = true
		case rec.Kind == "refused":
			seen["the password form refused (refused record)"] = true
		case rec.Kind == "call" && rec.Tool == "fact":
			t.Errorf("the quarantined fact has a call record: it was forwarded")
		}
	}
	for _, want := range []string{"fact quarantined (drift record with the finding)", "the call to fact refused (denied record)",
		"the escapes removed (neutralised record)", "the password form refused (refused record)"} {
		if !seen[want] {
			t.Errorf("the trail does not show %s", want)
		}
	}
	if t.Failed() {
		var kinds []string
		for _, rec := range recs {
			kinds = append(kinds, rec.Kind+"/"+rec.Tool+"/"+rec.Decision)
		}
		t.Fatalf("records: %v", kinds)
	}

	t.Logf("aim-mcp pins accept: %s", strings.TrimSpace(cli("pins", "accept", "poisoned", "fact", "--home", aimHome)))
	h.startDriver(t, "poison", "poison-released", dir, nil, cmdline).finish(t)
	if v := cli("audit", "verify", "--home", aimHome, "--witness", "none"); !strings.Contains(v, "intact") {
		t.Errorf("aim-mcp audit verify: %s", v)
	}
}
