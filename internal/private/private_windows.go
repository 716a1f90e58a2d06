package private

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/opena2a-org/aim-mcp/internal/oshint"
)

const (
	// fileAllAccess is FILE_ALL_ACCESS, which x/sys/windows does not name.
	fileAllAccess = windows.STANDARD_RIGHTS_REQUIRED | windows.SYNCHRONIZE | 0x1ff
	// readRights are the rights that let a principal read a file's bytes.
	readRights = 0x1 /* FILE_READ_DATA */ | windows.GENERIC_READ | windows.GENERIC_ALL
)

// ownerOnly is a security descriptor whose protected DACL grants the
// current user full control and nobody else anything; inherited entries
// of the parent do not flow in. For a directory the entry is inherited by
// everything created inside it.
func ownerOnly(dir bool) (*windows.SecurityAttributes, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	inherit := uint32(windows.NO_INHERITANCE)
	if dir {
		inherit = windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT
	}
	acl, err := windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{{
		AccessPermissions: fileAllAccess,
		AccessMode:        windows.GRANT_ACCESS,
		Inheritance:       inherit,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_USER,
			TrusteeValue: windows.TrusteeValueFromSID(u.User.Sid),
		},
	}}, nil)
	if err != nil {
		return nil, fmt.Errorf("owner-only access list: %w", err)
	}
	sd, err := windows.NewSecurityDescriptor()
	if err != nil {
		return nil, err
	}
	if err := sd.SetDACL(acl, true, false); err != nil {
		return nil, err
	}
	if err := sd.SetControl(windows.SE_DACL_PROTECTED, windows.SE_DACL_PROTECTED); err != nil {
		return nil, err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

func mkdir(dir string) error {
	sa, err := ownerOnly(true)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	if err := windows.CreateDirectory(p, sa); err != nil {
		if err == windows.ERROR_ALREADY_EXISTS {
			return os.ErrExist
		}
		return err
	}
	return nil
}

func create(path string) (*os.File, error) {
	sa, err := ownerOnly(false)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, windows.FILE_SHARE_READ, sa,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if err == windows.ERROR_FILE_EXISTS {
			err = os.ErrExist
		}
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

func writeNew(path string, data []byte) (bool, error) {
	f, err := create(path)
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return true, err
}

func readSmall(path string, n int) ([]byte, *Exposure, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	ex, cerr := check(path)
	if cerr != nil {
		ex = nil
	}
	buf := make([]byte, n)
	n, _ = f.Read(buf) // unreadable: what it holds is no key
	return buf[:n], ex, nil
}

// check reads path's DACL. The owner, the current user, SYSTEM and the
// Administrators group are not "others": the first two are the user, and
// the last two can read every file on the machine whatever its DACL says.
func check(path string) (*Exposure, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, &os.PathError{Op: "read access list", Path: path, Err: err}
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return nil, err
	}
	exposed := func(who string) *Exposure {
		return &Exposure{Path: path, Who: "can be read by " + who, Fix: oshint.Private(path, account(me.User.Sid))}
	}
	dacl, _, err := sd.DACL()
	if err == windows.ERROR_OBJECT_NOT_FOUND || err == nil && dacl == nil {
		return exposed("everyone (it has no access list)"), nil
	}
	if err != nil {
		return nil, err
	}
	var others []string
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return nil, fmt.Errorf("read access list of %s: %w", path, err)
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 ||
			ace.Mask&readRights == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if sid.Equals(me.User.Sid) || owner != nil && sid.Equals(owner) ||
			sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) {
			continue
		}
		others = append(others, account(sid))
	}
	if len(others) == 0 {
		return nil, nil
	}
	return exposed(strings.Join(others, ", ")), nil
}

// account names a SID as icacls and the user read it: DOMAIN\name, or the
// S-1-... form when it has no name.
func account(sid *windows.SID) string {
	name, domain, _, err := sid.LookupAccount("")
	switch {
	case err != nil:
		return sid.String()
	case domain == "":
		return name
	}
	return domain + `\` + name
}
