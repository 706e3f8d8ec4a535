package kdc

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Printing a Service or a KDC shows no password and no key.
func TestRedaction(t *testing.T) {
	s := Service{Password: "hunter2-secret", AllowedToDelegateTo: []string{"HTTP/x"}}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "hunter2") {
			t.Errorf("%s leaks the password: %s", f, out)
		}
	}
	k, err := New(Config{Realm: "R.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/x", s); err != nil {
		t.Fatal(err)
	}
	p, _ := k.lookupString("HTTP/x")
	for _, f := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(f, k)
		if strings.Contains(out, "hunter2") || bytes.Contains([]byte(out), p.keys[0].value) || strings.Contains(out, fmt.Sprint(p.keys[0].value[:4])) {
			t.Errorf("%s leaks: %s", f, out)
		}
	}
}
