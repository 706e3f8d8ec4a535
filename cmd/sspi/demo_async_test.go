package main

import "testing"

// The demo through the async family prints exactly what the synchronous
// demo prints: the same statuses and token sizes for every leg.
func TestDemoAsync(t *testing.T) {
	for _, pkg := range []string{"ntlm"} {
		t.Run(pkg, func(t *testing.T) {
			code, want, errOut := runCmd(t, "demo", "-p", pkg)
			if code != exitOK {
				t.Fatalf("sync demo: exit %d:\n%s%s", code, want, errOut)
			}
			code, got, errOut := runCmd(t, "demo", "--async", "-p", pkg)
			if code != exitOK {
				t.Fatalf("async demo: exit %d:\n%s%s", code, got, errOut)
			}
			if got != want {
				t.Errorf("async demo output differs:\n%s\nsync:\n%s", got, want)
			}
		})
	}
}
