package watch

import (
	"fmt"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
)

// remote handles o's server when it is remote: a url entry of a client
// that loads them (rewritten when r.Entries is set), one rewritten before,
// or an npx mcp-remote entry (rewritten with r.ReplaceMCPRemote). It
// reports whether it decided o's action; the others are wrapped as stdio
// servers.
func (r *Reconciler) remote(cfg *discovery.Config, o *Outcome, res *Result) (bool, error) {
	s := o.Server
	spec := claudeconfig.ProxySpec{Exe: r.Exe, Client: cfg.Client.Name, Server: s.RegName, Home: r.Home}
	switch {
	case s.Wrapped && s.Proxy.Entry != "":
		o.Note = remoteNote(s.Remote)
		if claudeconfig.SameProxy(s.Proxy, spec) {
			o.Action = AlreadyWrapped
		} else {
			o.Skip = fmt.Sprintf("remote server behind another aim-mcp (%s, home %s)", s.Proxy.Exe, s.Proxy.Home)
		}
		return true, nil
	case s.Skip == claudeconfig.SkipRemote:
		if r.Entries == "" {
			return true, nil
		}
		if why := s.RemoteSkip(cfg.Client.Remote); why != "" {
			o.Skip = why
			return true, nil
		}
		spec.Entry = claudeconfig.NewEntryID()
		orig, wrapped, err := cfg.File.WrapRemote(s.Root, s.Name, spec, *cfg.Client.Remote)
		if err != nil {
			return true, err
		}
		r.rewritten(cfg, o, res, spec, s.Remote.TransportFor(*cfg.Client.Remote), orig, wrapped)
		return true, nil
	case s.Skip == "" && s.MCPRemote != nil && r.ReplaceMCPRemote && r.Entries != "":
		if s.MCPRemote.Problem != "" {
			o.Note = "npx mcp-remote left as it was: " + s.MCPRemote.Problem
			return false, nil
		}
		spec.Entry = claudeconfig.NewEntryID()
		orig, wrapped, err := cfg.File.ReplaceMCPRemote(s.Root, s.Name, spec)
		if err != nil {
			return true, err
		}
		o.Remote = s.MCPRemote
		r.rewritten(cfg, o, res, spec, s.MCPRemote.Transport, orig, wrapped)
		o.Note += ", was npx mcp-remote"
		return true, nil
	}
	return false, nil
}

// rewritten records a rewrite: the outcome, and the entry to keep.
func (r *Reconciler) rewritten(cfg *discovery.Config, o *Outcome, res *Result, spec claudeconfig.ProxySpec, transport string, orig, wrapped []byte) {
	s := o.Server
	o.Action, o.Skip = Wrapped, ""
	// The registration's command is the URL: the server's identity, as
	// the proxy registers it.
	o.Original = []string{o.Remote.URL}
	o.Note = remoteNote(&claudeconfig.Remote{URL: o.Remote.URL, Transport: transport, HeaderNames: o.Remote.HeaderNames})
	saved := claudeconfig.NewSavedEntry(orig, wrapped)
	saved.ID, saved.Client, saved.Config = spec.Entry, cfg.Client.Name, cfg.Path
	saved.Root, saved.Name, saved.Server = s.Root, s.Name, s.RegName
	saved.URL, saved.Transport = o.Remote.URL, transport
	res.saved = append(res.saved, saved)
}

// remoteNote says where a remote server is: its URL, transport and the
// names (never the values) of the headers it is sent.
func remoteNote(rm *claudeconfig.Remote) string {
	if rm == nil {
		return ""
	}
	n := "remote " + rm.URL + " (" + rm.Transport
	if len(rm.HeaderNames) > 0 {
		n += fmt.Sprintf("; headers %v", rm.HeaderNames)
	}
	return n + ")"
}

// keep writes the entries rewritten in this pass, before the config that
// names them.
func (r *Reconciler) keep(saved []claudeconfig.SavedEntry) error {
	for k, s := range saved {
		if err := s.Save(r.Entries); err != nil {
			r.unkeep(saved[:k])
			return err
		}
	}
	return nil
}

// unkeep removes kept entries whose config was not written after all.
func (r *Reconciler) unkeep(saved []claudeconfig.SavedEntry) {
	for _, s := range saved {
		claudeconfig.RemoveSaved(r.Entries, s.ID)
	}
}
