//go:build !windows

package private

import (
	"os"
	"strings"
	"testing"
)

// exposeToOthers gives the group and others read access.
func exposeToOthers(t *testing.T, p string) {
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ex, _ := Check(p)
		if ex != nil && (ex.Who != "has mode 0644" || !strings.HasPrefix(ex.Fix, "chmod 600 ")) {
			t.Errorf("Check(%q) = %+v; want mode 0644 and chmod 600", p, ex)
		}
	})
}
