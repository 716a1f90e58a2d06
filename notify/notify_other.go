//go:build !linux && !darwin && !windows

package notify

import (
	"context"
	"errors"
)

func (d *Notifier) send(ctx context.Context, n Note) error {
	return errors.New("no desktop notifications on this platform")
}
