package policy

import "testing"

// TestOperators: every operator of the table parses from its --when form,
// prints back to it, survives the registry's round trip (Name, Ptr, Value)
// and matches.
func TestOperators(t *testing.T) {
	args := map[string]any{"path": "/etc/passwd"}
	value := map[string]string{"equals": "/etc/passwd", "prefix": "/etc/", "regex": "^/etc/p.*d$"}
	for _, o := range Operators() {
		if o.Name == "" || o.Value == "" || o.compile == nil {
			t.Errorf("operator %+v is incomplete", o)
			continue
		}
		v, ok := value[o.Name]
		if !ok {
			t.Errorf("operator %q has no case in this test", o.Name)
			continue
		}
		when := "/path" + o.Mark + "=" + v
		c, err := ParseWhen(when)
		if err != nil {
			t.Errorf("ParseWhen(%q): %v", when, err)
			continue
		}
		if c.Op != o.Name || c.Ptr != "/path" || c.Value != v || c.String() != when {
			t.Errorf("ParseWhen(%q) = %+v, printed %q", when, c, c.String())
		}
		stored := &Cond{Ptr: c.Ptr, Op: c.Op, Value: c.Value}
		if err := stored.compile(); err != nil {
			t.Errorf("stored %s condition: %v", o.Name, err)
			continue
		}
		if !stored.match(args) || stored.match(map[string]any{"path": "/home/x"}) {
			t.Errorf("%s condition %q does not tell /etc/passwd from /home/x", o.Name, when)
		}
	}
	if o := Operators()[0]; o.Mark != "" {
		t.Errorf("the first operator %q has mark %q; a plain /path=VALUE needs one without", o.Name, o.Mark)
	}
	if err := (&Cond{Ptr: "/a", Op: "contains", Value: "x"}).compile(); err == nil ||
		err.Error() != `condition operator "contains": want equals, prefix or regex` {
		t.Errorf("unknown operator: %v", err)
	}
	if _, err := ParseWhen("noequals"); err == nil ||
		err.Error() != `condition "noequals": want /pointer=value, /pointer^=prefix or /pointer~=regex` {
		t.Errorf("no =: %v", err)
	}
}
