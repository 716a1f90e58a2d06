package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/fold"
	"github.com/opena2a-org/aim-mcp/inventory"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
	compliance "github.com/opena2a-org/aim-mcp/report"
	"github.com/opena2a-org/aim-mcp/trust"
)

// pageSize is how many records the Activity page shows at a time.
const pageSize = 50

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// fail answers an API call with {"error": msg}, for the page to show.
func fail(w http.ResponseWriter, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, a...)})
}

// internal reports an unexpected failure without the details (they go to
// the log).
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("dashboard request failed", "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, "%v", err)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// who is the person at the page, as the records name them.
func (s *Server) who() string {
	if s.opt.Who == "" {
		return "dashboard"
	}
	return s.opt.Who + " via dashboard"
}

// approvalView is an approval as the page shows it: its arguments folded
// (each long value to its ends around a marker that counts what is left
// out) and whole, for "Show all", both indented as written.
type approvalView struct {
	registry.Approval
	Client     string `json:"client"`
	Now        int64  `json:"now"` // the server's clock (ms), for the time left
	ArgsFolded string `json:"args_folded"`
	ArgsText   string `json:"args_text"`
	Folded     bool   `json:"folded"` // ArgsFolded leaves something out
	Hidden     bool   `json:"hidden"` // some values are masked secrets
}

// cardKeep is how much of each end of a long value an approval card shows.
const cardKeep = 120

func (s *Server) apiApprovals(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pending, err := s.opt.DB.Approvals(ctx, registry.ApprovalPending)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	all, err := s.opt.DB.Approvals(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	clients := map[string]string{}
	view := func(a registry.Approval) approvalView {
		c, ok := clients[a.ServerID]
		if !ok {
			if srv, err := s.opt.DB.ServerByID(ctx, a.ServerID); err == nil {
				c = srv.Client
			}
			clients[a.ServerID] = c
		}
		folded := fold.JSON(a.Args, cardKeep)
		return approvalView{Approval: a, Client: c, Now: time.Now().UnixMilli(),
			ArgsFolded: fold.Pretty([]byte(folded)), ArgsText: fold.Pretty(a.Args),
			Folded: len(folded) < len(a.Args), Hidden: strings.Contains(string(a.Args), "[REDACTED ")}
	}
	out := struct {
		Pending []approvalView `json:"pending"`
		Recent  []approvalView `json:"recent"`
	}{Pending: []approvalView{}, Recent: []approvalView{}}
	for _, a := range pending {
		out.Pending = append(out.Pending, view(a))
	}
	// The last answered ones, newest first, so a person sees what became
	// of what they (or someone in a terminal) answered.
	for i := len(all) - 1; i >= 0 && len(out.Recent) < 10; i-- {
		if all[i].Status != registry.ApprovalPending {
			out.Recent = append(out.Recent, view(all[i]))
		}
	}
	writeJSON(w, out)
}

// decide answers approval id, reporting an unknown or already answered one
// clearly and changing nothing then.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, status, note string) (registry.Approval, bool) {
	id := r.PathValue("id")
	a, err := s.opt.DB.DecideApproval(r.Context(), id, status, s.who(), note)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		fail(w, http.StatusNotFound, "there is no approval %q", id)
		return a, false
	case errors.Is(err, registry.ErrNotPending):
		fail(w, http.StatusConflict, "approval %s was already answered: it is %s; nothing was changed", id, a.Status)
		return a, false
	case err != nil:
		s.internal(w, r, err)
		return a, false
	}
	s.feed.changed()
	return a, true
}

// apiReveal gives the person at the page the exact arguments of a waiting
// call, secrets included. It is a POST, so the Origin and CSRF checks of
// a change guard it too: no other page can make the browser ask.
func (s *Server) apiReveal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, full, err := s.opt.DB.PendingArgs(r.Context(), id)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		fail(w, http.StatusNotFound, "there is no approval %q", id)
	case errors.Is(err, registry.ErrArgsGone) && a.Status != registry.ApprovalPending:
		fail(w, http.StatusGone, "the exact arguments of approval %s are gone: it is %s, and they are kept only while an approval waits", id, a.Status)
	case errors.Is(err, registry.ErrArgsGone):
		fail(w, http.StatusGone, "the exact arguments of approval %s were not kept; deny it if the masked ones are not enough", id)
	case errors.Is(err, registry.ErrArgsTampered):
		fail(w, http.StatusConflict, "the exact arguments kept for approval %s were changed: they are not the ones the approval binds, so they are not shown; deny it", id)
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, map[string]any{"id": a.ID, "args_text": fold.Pretty(full)})
	}
}

func (s *Server) apiApprove(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Remember bool `json:"remember"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "bad request: %v", err)
		return
	}
	a, ok := s.decide(w, r, registry.ApprovalApproved, "")
	if !ok {
		return
	}
	msg := fmt.Sprintf("approved: %s on %s runs once", a.Tool, a.Server)
	if in.Remember {
		rule, err := policy.Store(r.Context(), s.opt.DB, a.Server, a.Tool, "", "", audit.ActionAllow)
		if err != nil {
			fail(w, http.StatusInternalServerError, "approved once, but the rule was not added: %v", err)
			return
		}
		msg = fmt.Sprintf("approved: %s on %s runs once, and rule %d now allows it from now on", a.Tool, a.Server, rule.ID)
	}
	writeJSON(w, map[string]any{"approval": a, "message": msg})
}

func (s *Server) apiDeny(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "bad request: %v", err)
		return
	}
	a, ok := s.decide(w, r, registry.ApprovalDenied, strings.TrimSpace(in.Reason))
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"approval": a, "message": fmt.Sprintf("denied: %s on %s", a.Tool, a.Server)})
}

// parseWhen reads a time of the Activity filters: RFC 3339, or the local
// "2006-01-02T15:04" of a datetime-local input, or a date.
func parseWhen(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", v)
}

func (s *Server) apiRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := registry.Filter{Server: q.Get("server"), Tool: q.Get("tool"), Kind: q.Get("kind"), Decision: q.Get("decision"),
		Limit: pageSize + 1}
	var err error
	if f.Since, err = parseWhen(q.Get("since")); err != nil {
		fail(w, http.StatusBadRequest, "since: %v", err)
		return
	}
	if f.Until, err = parseWhen(q.Get("until")); err != nil {
		fail(w, http.StatusBadRequest, "until: %v", err)
		return
	}
	if o := q.Get("offset"); o != "" {
		if f.Offset, err = strconv.Atoi(o); err != nil || f.Offset < 0 {
			fail(w, http.StatusBadRequest, "offset %q is not a number", o)
			return
		}
	}
	recs, err := s.opt.DB.Records(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	more := len(recs) > pageSize
	if more {
		recs = recs[1:] // the oldest one only told that there are more
	}
	// Newest first on the page.
	out := make([]registry.Record, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		out = append(out, recs[i])
	}
	writeJSON(w, map[string]any{"records": out, "more": more, "offset": f.Offset, "page_size": pageSize})
}

func (s *Server) apiRecord(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq <= 0 {
		fail(w, http.StatusBadRequest, "record %q is not a number", r.PathValue("seq"))
		return
	}
	rec, err := s.opt.DB.Record(r.Context(), seq)
	if errors.Is(err, registry.ErrNotFound) {
		fail(w, http.StatusNotFound, "there is no record %d", seq)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	v, err := s.opt.DB.VerifySince(r.Context()) // from the last checkpoint: opening a record must not read them all
	if err != nil {
		s.internal(w, r, err)
		return
	}
	upTo := v.OK() || v.BadSeq > seq
	writeJSON(w, map[string]any{"record": rec, "verifies": upTo, "bad_seq": v.BadSeq, "reason": v.Reason})
}

func (s *Server) apiVerify(w http.ResponseWriter, r *http.Request) {
	v, err := s.opt.DB.Verify(r.Context(), "")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	msg := fmt.Sprintf("audit trail intact: %s from %s verified", plural(v.Records, "record"), plural(v.Servers, "server"))
	if !v.OK() {
		msg = fmt.Sprintf("audit trail broken at record %d: %s", v.BadSeq, v.Reason)
	}
	writeJSON(w, map[string]any{"intact": v.OK(), "records": v.Records, "servers": v.Servers, "bad_seq": v.BadSeq,
		"reason": v.Reason, "message": msg})
}

func (s *Server) apiServers(w http.ResponseWriter, r *http.Request) {
	var rows []inventory.Row
	var err error
	if s.opt.Configs != nil {
		rows, err = inventory.Rows(r.Context(), s.opt.DB, s.opt.Configs())
	} else {
		rows, err = inventory.Registered(r.Context(), s.opt.DB)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"servers": rows})
}

func (s *Server) apiTrust(w http.ResponseWriter, r *http.Request) {
	srv, err := s.opt.DB.ServerByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, registry.ErrNotFound) {
		fail(w, http.StatusNotFound, "there is no server %q", r.PathValue("id"))
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	sc, err := (&trust.Source{DB: s.opt.DB}).Score(r.Context(), srv)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type factor struct {
		Name string `json:"name"`
		trust.Factor
	}
	var fs []factor
	for _, f := range sc.List {
		fs = append(fs, factor{f.Name, f})
	}
	// Scanned when a person opens the server, one server at a time, not
	// for every server on every redraw.
	findings, tools, err := pins.ScanListed(r.Context(), s.opt.DB, srv.ID, poison.New(nil))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"score": sc, "factors": fs, "findings": findings, "tools": tools})
}

// driftView is one tool whose pin is not settled.
type driftView struct {
	ServerID string          `json:"server_id"`
	Server   string          `json:"server"`
	Client   string          `json:"client"`
	Tool     string          `json:"tool"`
	State    string          `json:"state"`
	Since    time.Time       `json:"since"`
	Changed  []string        `json:"changed,omitempty"`
	Members  []pins.Member   `json:"members"`
	Pinned   json.RawMessage `json:"pinned,omitempty"`
	Current  json.RawMessage `json:"current,omitempty"`
}

func (s *Server) apiDrift(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	servers, err := s.opt.DB.Servers(ctx)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []driftView{}
	for _, srv := range servers {
		ts, err := s.opt.DB.Tools(ctx, srv.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, t := range ts {
			if t.State == registry.ToolPinned {
				continue
			}
			d := driftView{ServerID: srv.ID, Server: srv.Name, Client: srv.Client, Tool: t.Name, State: t.State,
				Since: t.ChangedAt, Members: pins.SideBySide(t.PinnedDef, t.Definition), Pinned: t.PinnedDef, Current: t.Definition}
			if t.State == registry.ToolChanged {
				d.Changed = pins.Changed(t.PinnedDef, t.Definition)
			}
			out = append(out, d)
		}
	}
	writeJSON(w, map[string]any{"tools": out})
}

func (s *Server) apiAccept(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ServerID string `json:"server_id"`
		Tool     string `json:"tool"` // "" accepts every tool of the server
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "bad request: %v", err)
		return
	}
	srv, err := s.opt.DB.ServerByID(r.Context(), in.ServerID)
	if errors.Is(err, registry.ErrNotFound) {
		fail(w, http.StatusNotFound, "there is no server %q", in.ServerID)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	var names []string
	if in.Tool != "" {
		names = []string{in.Tool}
	}
	res, err := pins.Accept(r.Context(), s.opt.DB, srv, names, s.who(), time.Now())
	if errors.Is(err, registry.ErrNotFound) {
		fail(w, http.StatusNotFound, "server %q has no tool %q", srv.Name, in.Tool)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.feed.changed()
	msg := fmt.Sprintf("accepted %s of %s", plural(len(res.Changes), "change"), srv.Name)
	if len(res.Changes) == 0 {
		msg = "nothing to accept: already as pinned"
	}
	if n := len(res.Released); n > 0 {
		msg += fmt.Sprintf("; %s released", plural(n, "held call"))
	}
	if res.Unrecorded != nil {
		msg += fmt.Sprintf(" (not recorded in the audit trail: %v)", res.Unrecorded)
	}
	writeJSON(w, map[string]any{"message": msg, "released": len(res.Released)})
}

func (s *Server) apiPolicy(w http.ResponseWriter, r *http.Request) {
	rules, err := policy.AllRules(r.Context(), s.opt.DB, s.opt.Config)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type ruleView struct {
		*policy.Rule
		WhenText string `json:"when_text,omitempty"`
	}
	out := []ruleView{}
	for _, rl := range rules {
		v := ruleView{Rule: rl}
		if rl.When != nil {
			v.WhenText = rl.When.String()
		}
		out = append(out, v)
	}
	c := s.opt.Config
	writeJSON(w, map[string]any{"rules": out, "actions": c.Actions, "default_risk": c.DefaultRisk,
		"fail_mode": c.FailMode, "drift_action": c.DriftAction})
}

func (s *Server) apiAddRule(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Server string `json:"server"`
		Tool   string `json:"tool"`
		When   string `json:"when"`
		Risk   string `json:"risk"`
		Action string `json:"action"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "bad request: %v", err)
		return
	}
	if in.Server == "" {
		in.Server = "*"
	}
	if in.Tool == "" {
		in.Tool = "*"
	}
	rule, err := policy.Store(r.Context(), s.opt.DB, in.Server, in.Tool, in.When, in.Risk, audit.Action(in.Action))
	if err != nil {
		fail(w, http.StatusBadRequest, "%v; nothing was added", err)
		return
	}
	s.feed.changed()
	writeJSON(w, map[string]any{"message": fmt.Sprintf("added rule %d: %s", rule.ID, rule.Describe())})
}

func (s *Server) apiRemoveRule(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(w, http.StatusBadRequest, "rule %q is not a number", r.PathValue("id"))
		return
	}
	if err := s.opt.DB.RemoveRule(r.Context(), id); errors.Is(err, registry.ErrNotFound) {
		fail(w, http.StatusNotFound, "there is no rule %d (rules from config.yaml are removed by editing it)", id)
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	s.feed.changed()
	writeJSON(w, map[string]any{"message": fmt.Sprintf("removed rule %d", id)})
}

func (s *Server) apiCheck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	server, tool, args := q.Get("server"), q.Get("tool"), q.Get("args")
	if server == "" || tool == "" {
		fail(w, http.StatusBadRequest, "a server and a tool are needed")
		return
	}
	if args == "" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) {
		fail(w, http.StatusBadRequest, "the arguments are not valid JSON")
		return
	}
	d, err := policy.Explain(r.Context(), s.opt.DB, s.opt.Config, server, tool, json.RawMessage(args))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, d)
}

// apiReportTypes lists the report frameworks, the default first, so the
// reports page offers what report.Frameworks holds.
func (s *Server) apiReportTypes(w http.ResponseWriter, r *http.Request) {
	type framework struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	out := []framework{}
	for _, f := range compliance.Frameworks() {
		out = append(out, framework{f.Type, f.Name})
	}
	writeJSON(w, out)
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, format := q.Get("type"), q.Get("format")
	now := time.Now()
	until, err := parseWhen(q.Get("until"))
	if err != nil {
		fail(w, http.StatusBadRequest, "until: %v", err)
		return
	}
	if until.IsZero() {
		until = now
	}
	since, err := parseWhen(q.Get("since"))
	if err != nil {
		fail(w, http.StatusBadRequest, "since: %v", err)
		return
	}
	if since.IsZero() {
		since = until.AddDate(0, 0, -30)
	}
	servers, err := s.opt.DB.Servers(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	rep, err := compliance.Build(r.Context(), s.opt.DB, compliance.Options{Type: typ, Since: since, Until: until, Now: now,
		All: true, Servers: servers})
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	defer rep.Close()
	if !slices.Contains(compliance.Formats, format) {
		fail(w, http.StatusBadRequest, "unknown report format %q", format)
		return
	}
	ctype := map[string]string{"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}[format]
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="aim-mcp-%s-%s.%s"`, typ, until.Format("2006-01-02"), format))
	// Streamed as the calls are read: a failure now can only cut it short,
	// which the client sees as a broken download.
	if err := compliance.Write(r.Context(), w, rep, format); err != nil {
		s.log.Warn("report download cut short", "err", err)
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
