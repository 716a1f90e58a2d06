package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

const keysUsage = `
Usage: aim-mcp keys rotate SERVER [--client NAME] [--home DIR] [--aim-token TOKEN|-]

Gives the server a new Ed25519 key. The old key signs a key_rotated record
that names the new one, so "aim-mcp audit verify" follows the server from
one key to the next: the trail stays one chain.

In a home that uses a remote AIM, the server's AIM agent gets a new key as
well, in AIM and here. AIM lets only a user rotate an agent's key: pass an
AIM user's token (from AIM's web UI) with --aim-token, "-" to read it from
stdin, or set AIM_TOKEN. The token is used once and never stored. This is
also how a home recovers after someone rotated the key in AIM's web UI.

Proxies that run go on: what they record from the rotation on is signed
with the new key, and so are their requests to a remote AIM (a proxy
reads the new key when AIM refuses the old one).

Flags:
  --client NAME      the server's client, when several clients have a server of that name
  --home DIR         aim-mcp's data directory
  --aim-token TOKEN  an AIM user's token; "-" reads it from stdin
`

func runKeys(ctx context.Context, e env, args []string) error {
	fs := flags(e, "keys", keysUsage)
	client := fs.String("client", "", "")
	homeFlag := fs.String("home", "", "")
	tokenFlag := fs.String("aim-token", "", "")
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return &usageError{cmd: "keys", msg: "keys needs a subcommand: rotate"}
	case pos[0] != "rotate":
		return &usageError{cmd: "keys", msg: fmt.Sprintf("unknown keys subcommand %q: want rotate", pos[0]), hints: didYouMean(pos[0], "rotate")}
	case len(pos) == 1:
		return &usageError{cmd: "keys", msg: "keys rotate needs a SERVER"}
	case len(pos) > 2:
		return &usageError{cmd: "keys", msg: fmt.Sprintf("unexpected argument %q", pos[2])}
	}
	dir, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	srv, err := serverNamed(ctx, db, pos[1], *client)
	if err != nil {
		return err
	}
	if srv.Status == registry.StatusPurged {
		return errorf("server %q was purged: it has no key to rotate", srv.Name).hint("run \"aim-mcp install\" to register it again")
	}
	if !db.Keys().Exists(srv.ID) {
		return errorf("the key of %q is not in %q: it comes from AIM_PRIVATE_KEY", srv.Name, db.Keys().Path(srv.ID)).
			hint("rotate that key where you keep it, and set AIM_PRIVATE_KEY to the new one")
	}
	cfg, cerr := config.Load()
	if cerr != nil {
		cfg = config.Defaults()
	}
	aim, err := proxyAIM(dir, cfg, e.stderr)
	if err != nil {
		return errorf("%v", err)
	}
	// AIM first: it can fail for many reasons, and then nothing changed.
	if aim.URL != "" && srv.RemoteID != "" {
		token, err := userToken(e, *tokenFlag)
		if err != nil {
			return err
		}
		if err := rotateInAIM(ctx, e, db, aim, cfg, srv, token); err != nil {
			return err
		}
	}
	oldFP := srv.Fingerprint()
	rotated, err := db.RotateKey(ctx, srv, "aim-mcp keys rotate")
	if err != nil {
		return errorf("%v", err)
	}
	fmt.Fprintf(e.stdout, "%s (%s): new key %s (was %s), recorded as key_rotated and signed by the old key\n",
		srv.Name, srv.Client, rotated.Fingerprint(), oldFP)
	return nil
}

// userToken is the AIM user's token from --aim-token (or stdin for "-"),
// else AIM_TOKEN.
func userToken(e env, flagValue string) (string, error) {
	t := flagValue
	if t == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 16<<10))
		if err != nil {
			return "", errorf("read the AIM token from stdin: %v", err)
		}
		t = strings.TrimSpace(string(b))
	}
	if t == "" {
		t = getenv("AIM_TOKEN")
	}
	if t == "" {
		return "", errorf("rotating the key of an AIM agent needs an AIM user's token: AIM lets only a user do it").
			hint("sign in to AIM's web UI, copy your token, and pass it with --aim-token - on stdin (or set AIM_TOKEN)")
	}
	return t, nil
}

// rotateInAIM gives the server's agent a new key in AIM and keeps it here.
func rotateInAIM(ctx context.Context, e env, db *registry.DB, s aimSettings, cfg config.Config, srv registry.Server, token string) error {
	c, err := aimClient(s, cfg, debugLogger(e, cfg))
	if err != nil {
		return err
	}
	key, err := c.RotateCredentials(ctx, token, srv.RemoteID)
	if err != nil {
		return aimError(fmt.Sprintf("rotate the key of AIM agent %s", srv.RemoteID), err)
	}
	if err := replaceKey(db.Keys(), remote.KeyName(srv.RemoteID), key); err != nil {
		return errorf("keep AIM's new key of agent %s: %v", srv.RemoteID, err).
			hint("AIM has rotated the key; run the command again to rotate it once more and keep that one")
	}
	if err := db.ForgetAIMVerdicts(ctx, srv.RemoteID); err != nil {
		return errorf("%v", err)
	}
	fmt.Fprintf(e.stdout, "AIM agent %s: new key %s, in AIM and here\n", srv.RemoteID, identity.Fingerprint(key.Public()))
	return nil
}

// replaceKey saves key as name, replacing the key there in one rename.
func replaceKey(keys identity.Store, name string, key *identity.Key) error {
	next := name + ".next"
	if err := keys.Remove(next); err != nil {
		return err
	}
	if err := keys.Save(next, key); err != nil {
		return err
	}
	if err := keys.Replace(next, name); err != nil {
		return errors.Join(err, keys.Remove(next))
	}
	return nil
}
