package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/internal/oshint"
)

// leftAsIs starts what uninstall says of a rewritten remote entry it left.
const leftAsIs = "left as it is: "

// rewrittenIDs are the --entry ids of the remote servers install rewrote
// in cfg.
func rewrittenIDs(cfg *discovery.Config) []string {
	var ids []string
	for _, s := range cfg.Servers() {
		if s.Wrapped && s.Proxy.Entry != "" {
			ids = append(ids, s.Proxy.Entry)
		}
	}
	return ids
}

// restoreRemote puts back the original bytes of a remote server's entry
// that install rewrote, when the entry is still what install wrote, and
// says what it did. An entry edited since is the user's: it is left, and
// the message names the file that holds its original.
func restoreRemote(cfg *discovery.Config, dir string, s discovery.Server) string {
	if s.Proxy.Home != "" && filepath.Clean(s.Proxy.Home) != filepath.Clean(dir) {
		return fmt.Sprintf(leftAsIs+"rewritten by the aim-mcp of home %s (run its uninstall with --home)", oshint.Quote(s.Proxy.Home))
	}
	entries := home.Entries(dir)
	path := claudeconfig.SavedPath(entries, s.Proxy.Entry)
	saved, err := claudeconfig.LoadSaved(entries, s.Proxy.Entry)
	if errors.Is(err, claudeconfig.ErrNoSaved) {
		return fmt.Sprintf(leftAsIs+"its original entry is lost (%s is gone)", oshint.Quote(path))
	}
	if err != nil {
		return fmt.Sprintf(leftAsIs+"%v", err)
	}
	cur, err := cfg.File.EntryValue(s.Root, s.Name)
	if err != nil {
		return fmt.Sprintf(leftAsIs+"%v", err)
	}
	if !saved.Unchanged(cur) {
		return fmt.Sprintf(leftAsIs+"edited since install; its original entry is in %s", oshint.Quote(path))
	}
	if err := cfg.File.SetEntry(s.Root, s.Name, saved.OriginalBytes()); err != nil {
		return fmt.Sprintf(leftAsIs+"%v; its original entry is in %s", err, oshint.Quote(path))
	}
	return "restored: remote server " + saved.URL
}

// forgetRewritten removes the saved entries of ids that the file, as
// written, no longer names: they were given back.
func forgetRewritten(dir string, cfg *discovery.Config, ids []string) {
	left := rewrittenIDs(cfg)
	for _, id := range ids {
		if !slices.Contains(left, id) {
			claudeconfig.RemoveSaved(home.Entries(dir), id)
		}
	}
}
