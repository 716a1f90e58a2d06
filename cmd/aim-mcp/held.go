package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/dashboard"
	"github.com/opena2a-org/aim-mcp/notify"
	"github.com/opena2a-org/aim-mcp/registry"
)

// dashboardIdle is how long a dashboard that a proxy started stays up with
// no page open: longer than an approval lives, so the notification's link
// works as long as there is something to answer.
const dashboardIdle = 15 * time.Minute

// heldNotice tells the person that a call waits for them, when the client
// could not ask: it makes sure a dashboard answers at config.yaml's
// dashboard_addr (starting one, detached, when none does) and, unless
// notify is none, shows a desktop notification with the link to the
// approval. It works in the background: the held call does not wait for it.
func heldNotice(e env, dir string, cfg config.Config) func(registry.Approval) {
	n := &notify.Notifier{}
	return func(a registry.Approval) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			link, err := ensureDashboard(ctx, dir, cfg.DashboardAddr, "/approvals?id="+a.ID)
			if err != nil {
				fmt.Fprintf(e.stderr, "aim-mcp: warning: no dashboard for approval %s: %v\n", a.ID, err)
			}
			if cfg.Notify == config.NotifyNone {
				return
			}
			body := fmt.Sprintf("%s. Approve or deny in the dashboard, or run `aim-mcp approve %s`.", a.Reason, a.ID)
			err = n.Send(ctx, notify.Note{Key: a.ID, Title: fmt.Sprintf("approval needed: %s · %s · %s", a.Server, a.Tool, a.Risk),
				Body: body, Link: link})
			if err != nil {
				fmt.Fprintf(e.stderr, "aim-mcp: warning: approval %s: %v\n", a.ID, err)
			}
		}()
	}
}

// ensureDashboard returns the link to path on the home's dashboard at addr,
// starting a dashboard there first when none answers.
func ensureDashboard(ctx context.Context, dir, addr, path string) (string, error) {
	tok, err := dashboard.LoadToken(dir)
	if err != nil {
		return "", err
	}
	base := "http://" + addr
	link := dashboard.LinkTo(base, tok, path)
	if dashboardAnswers(ctx, base, tok) {
		return link, nil
	}
	exe, err := selfPath()
	if err != nil {
		return link, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "dashboard.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return link, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, exe, "dashboard", "--detach", "--no-open", "--addr", addr, "--home", dir, "--idle-exit", dashboardIdle.String())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	detach(cmd)
	if err := cmd.Run(); err != nil {
		return link, fmt.Errorf("start a dashboard: %w", err)
	}
	for ctx.Err() == nil {
		if dashboardAnswers(ctx, base, tok) {
			return link, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return link, fmt.Errorf("the dashboard started at %s does not answer; see %s", addr, filepath.Join(dir, "dashboard.log"))
}

// dashboardAnswers reports whether the dashboard of this home (the one
// that knows its token) answers at base.
func dashboardAnswers(ctx context.Context, base, tok string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dashboard.LinkTo(base, tok, "/"), nil)
	if err != nil {
		return false
	}
	c := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusSeeOther // it took the token
}
