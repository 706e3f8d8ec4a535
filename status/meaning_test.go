package status

import (
	"strings"
	"testing"
)

// Every meaning reads as a clause of the Error text: complete, and
// lower-case unless it starts with an acronym.
func TestMeaningsAreComplete(t *testing.T) {
	for st, c := range codes {
		m := c.meaning
		if m == "" || strings.HasSuffix(m, "(e.g") || strings.Count(m, "(") != strings.Count(m, ")") {
			t.Errorf("%s: meaning %q is cut off", st, m)
			continue
		}
		first, _, _ := strings.Cut(m, " ")
		first = strings.TrimRight(first, ":,")
		if r := first[0]; r >= 'A' && r <= 'Z' && strings.ToUpper(first) != first && first != "Kerberos" && first != "Schannel" {
			t.Errorf("%s: meaning %q starts with a capital letter", st, m)
		}
	}
}
