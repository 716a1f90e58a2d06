package aim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// Outcome implements mcpproxy.OutcomeObserver. It only queues: it runs on
// the proxy's pump, sometimes under the proxy's lock.
func (h *Hook) Outcome(_ context.Context, c *mcpproxy.Call, o mcpproxy.Outcome) {
	h.mu.Lock()
	e, ok := h.audit[c]
	delete(h.audit, c)
	h.mu.Unlock()
	if !ok || e.audit == "" {
		return
	}
	errText := o.ErrorText
	if len(errText) > 500 {
		errText = errText[:500] + "…"
	}
	r := remote.Result{Success: o.Status == audit.Success, Error: errText, Detail: map[string]any{
		"status": o.Status, "tool": c.Tool, "server": h.opt.Server.Name,
		"duration_ms": o.Duration.Milliseconds(), "size": o.Size, "result_sha256": o.Digest,
	}}
	if o.ErrorCode != 0 {
		r.Detail["error_code"] = o.ErrorCode
	}
	if r.Error == "" && !r.Success {
		r.Error = string(o.Status)
	}
	h.enqueue(func(ctx context.Context) {
		if err := h.opt.Client.LogAction(ctx, e.id, e.audit, r); err != nil {
			h.log.Debug("AIM log-action failed; the local chain has the outcome", "tool", c.Tool, "error", err.Error())
		}
	})
}

// requestLater queues the capability request of a refused tool, once a
// session.
func (h *Hook) requestLater(tool string) {
	h.mu.Lock()
	asked := h.asked[tool]
	h.asked[tool] = true
	h.mu.Unlock()
	if asked || tool == "" || !h.opt.Client.HasAPIKey() {
		return
	}
	h.enqueue(func(ctx context.Context) { h.request(ctx, []string{tool}) })
}

func (h *Hook) request(ctx context.Context, tools []string) {
	id, err := h.identity(ctx)
	if err != nil {
		h.log.Debug("AIM capability requests skipped", "error", err.Error())
		return
	}
	var granted []string
	if a, err := h.opt.Client.Agent(ctx, id.AgentID); err == nil {
		granted = a.Capabilities
	}
	var done []string
	for _, t := range tools {
		want := remote.Capability(t)
		if Granted(granted, want) || h.opt.Requests.Requested(id.AgentID, want) {
			continue
		}
		reason := fmt.Sprintf("aim-mcp: MCP server %q offers the tool %q; grant %q to let it run", h.opt.Server.Name, t, want)
		if err := h.opt.Client.RequestCapability(ctx, id.AgentID, want, reason); err != nil {
			h.log.Debug("AIM capability request failed", "capability", want, "error", err.Error())
			continue
		}
		done = append(done, want)
	}
	if err := h.opt.Requests.Add(id.AgentID, done...); err != nil {
		h.log.Debug("remember capability requests", "error", err.Error())
	}
}

// Granted reports whether capability matches one of the granted ones,
// exactly or by a granted "prefix*", as AIM's check does.
func Granted(granted []string, capability string) bool {
	for _, g := range granted {
		if g == capability || strings.HasSuffix(g, "*") && strings.HasPrefix(capability, strings.TrimSuffix(g, "*")) {
			return true
		}
	}
	return false
}

// enqueue hands a job to the worker without ever waiting: a full queue
// drops it.
func (h *Hook) enqueue(job func(context.Context)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	select {
	case h.jobs <- job:
	default:
		h.log.Debug("AIM queue full: dropped a log-action or capability request (the local chain has the record)")
	}
}

// jobTimeout bounds each queued job, so that a long Retry-After (AIM's rate
// limit answers 60 s) drops the job instead of stalling the queue.
const jobTimeout = 30 * time.Second

func (h *Hook) work() {
	defer close(h.done)
	for job := range h.jobs {
		ctx, cancel := context.WithTimeout(h.bg, jobTimeout)
		job(ctx)
		cancel()
	}
}

// Close sends what is queued, waiting at most wait, then stops the worker.
func (h *Hook) Close(wait time.Duration) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.jobs)
	h.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-h.done:
	case <-t.C:
		h.stop()
		<-h.done
	}
	h.stop()
}
