package private

import (
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// exposeToOthers adds an entry that lets Everyone read p, as a home
// under C:\ or a folder shared by mistake would.
func exposeToOthers(t *testing.T, p string) {
	sd, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	everyone, err := windows.CreateWellKnownSid(windows.WinWorldSid)
	if err != nil {
		t.Fatal(err)
	}
	acl, err := windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{{
		AccessPermissions: windows.GENERIC_READ,
		AccessMode:        windows.GRANT_ACCESS,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_WELL_KNOWN_GROUP,
			TrusteeValue: windows.TrusteeValueFromSID(everyone),
		},
	}}, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION, nil, nil, acl, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ex, _ := Check(p)
		if ex != nil && (!strings.Contains(ex.Who, "Everyone") || !strings.HasPrefix(ex.Fix, "icacls ") || strings.Contains(ex.Fix, `\\`)) {
			t.Errorf("Check(%q) = %+v; want Everyone named and an icacls fix", p, ex)
		}
	})
}
