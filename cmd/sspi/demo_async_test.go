package main

import (
	"regexp"
	"testing"
)

// sizes matches the byte counts of the demo's lines, which vary from run
// to run for packages with random-length fields (ECDSA signatures in TLS).
var sizes = regexp.MustCompile(`\d+(-byte| bytes)`)

// The demo through the async family prints what the synchronous demo
// prints, for every package the demo runs: the same calls, statuses and
// results, and the same token sizes for NTLM, whose are fixed.
func TestDemoAsync(t *testing.T) {
	code, want, errOut := runCmd(t, "demo", "--no-kdc")
	if code != exitOK {
		t.Fatalf("sync demo: exit %d:\n%s%s", code, want, errOut)
	}
	code, got, errOut := runCmd(t, "demo", "--async", "--no-kdc")
	if code != exitOK {
		t.Fatalf("async demo: exit %d:\n%s%s", code, got, errOut)
	}
	if sizes.ReplaceAllString(got, "N$1") != sizes.ReplaceAllString(want, "N$1") {
		t.Errorf("async demo output differs:\n%s\nsync:\n%s", got, want)
	}

	_, want, _ = runCmd(t, "demo", "-p", "ntlm")
	_, got, _ = runCmd(t, "demo", "--async", "-p", "ntlm")
	if got != want {
		t.Errorf("async NTLM demo output differs:\n%s\nsync:\n%s", got, want)
	}
}
