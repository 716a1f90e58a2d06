package witness

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// Journal reads the heads witnessed for home from the systemd journal:
// the user's journal and then the system's ("journalctl --user -t aim-mcp
// -o cat", "journalctl -t aim-mcp -o cat"), each as far as this user may
// read it. With no journalctl (macOS, Windows, a container) it returns
// nil and no error: there is nothing to read, which is not a failure.
func Journal(ctx context.Context, home string) ([]Head, error) {
	path, err := exec.LookPath("journalctl")
	if err != nil {
		return nil, nil
	}
	c := NewCollector(home)
	var errs []error
	for _, scope := range [][]string{{"--user"}, nil} {
		args := append(scope, "--quiet", "--no-pager", "-t", Tag, "-o", "cat")
		cmd := exec.CommandContext(ctx, path, args...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("journalctl: %w", err)
		}
		if err := cmd.Start(); err != nil {
			errs = append(errs, fmt.Errorf("journalctl: %w", err))
			continue
		}
		rerr := c.Read(out)
		// journalctl exits non-zero when there is no such journal: that
		// is "nothing witnessed here", not an error.
		cmd.Wait()
		if rerr != nil {
			errs = append(errs, rerr)
		}
	}
	if c.Lines == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c.Heads(), nil
}
