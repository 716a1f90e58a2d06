package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
)

// send posts to Notification Center with osascript; the link is in the
// text (a script notification cannot carry an action).
func (d *Notifier) send(ctx context.Context, n Note) error {
	body := n.Body
	if n.Link != "" {
		body += " " + n.Link
	}
	script := fmt.Sprintf("display notification %s with title %s", strconv.Quote(body), strconv.Quote(n.Title))
	return exec.CommandContext(ctx, "osascript", "-e", script).Run()
}
