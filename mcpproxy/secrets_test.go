package mcpproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestSecretsNotRecorded: the server's argv in session_start and secrets in
// a call's arguments (a header list, KEY=value in a command, a URL's
// password, an object under a secret key) never reach the database; the
// digest still covers the real arguments.
func TestSecretsNotRecorded(t *testing.T) {
	secrets := []string{"argv-secret-1", "hdr-secret-2", "env-secret-3", "url-secret-4", "obj-secret-5"}
	p := startProxy(t, proxyOpts{mode: "python", guard: &testGuard{},
		command: []string{os.Args[0], "--api-key", "argv-secret-1"}})
	lr := initRaw(t, p)
	args := `{"headers":[{"name":"Authorization","value":"Bearer hdr-secret-2"}],` +
		`"command":"API_TOKEN=env-secret-3 deploy","url":"https://u:url-secret-4@example.com/x",` +
		`"credentials":{"user":"u","key":"obj-secret-5"}}`
	p.send(toolCall("7", "run", args))
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != "7" || r.Result == nil {
		t.Fatalf("got %+v, want the server's answer", r)
	}
	p.close()
	recs := p.reg.records(t)
	calls := only(recs, registry.KindCall)
	if len(calls) != 1 {
		t.Fatalf("call records: got %d, want 1", len(calls))
	}
	if got, want := data(t, calls[0])["args_digest"], canonDigest(t, args); got != want {
		t.Errorf("args_digest %v, want %v (of the real arguments)", got, want)
	}
	if s := only(recs, registry.KindSessionStart); len(s) != 1 || !strings.Contains(string(s[0].Data), `"--api-key","[REDACTED]"`) {
		t.Errorf("session_start: got %+v, want the argv with its secret masked", s)
	}
	p.reg.db.Close()
	files, _ := filepath.Glob(filepath.Join(p.reg.dir, "aim.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", filepath.Base(f), s)
			}
		}
	}
}

// TestApproverArgs: the approver's form of the arguments keeps every value
// whole however long (the log's form folds them) and masks secrets with
// their length; numbers stay as written.
func TestApproverArgs(t *testing.T) {
	long := strings.Repeat("x", 5000) + "END"
	args := `{"content":"` + long + `","password":"hunter2","n":1.50,"url":"https://u:pw123@h/p"}`
	got := string(Approver([]byte(args)))
	for _, want := range []string{`"content":"` + long + `"`, `"password":"[REDACTED 7 bytes]"`, `"n":1.50`,
		`"url":"https://u:[REDACTED 5 bytes]@h/p"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Approver = %.200q..., want it to hold %.80q", got, want)
		}
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "pw123") {
		t.Errorf("Approver kept a secret: %q", got)
	}
	if logged := string(Redacted([]byte(args))); strings.Contains(logged, "END") {
		t.Errorf("the log's form kept all of a long value: %.100q", logged)
	}
	if got := string(Approver([]byte(" "))); got != "{}" {
		t.Errorf("Approver of nothing = %q, want {}", got)
	}
}
