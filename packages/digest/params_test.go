package digest

import "testing"

// username* takes an RFC 8187 ext-value: attr-chars as they are, every
// other byte percent-encoded. A raw byte outside attr-char is refused, and
// what decodes writes back no longer than it came.
func TestDecodeExtValue(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"UTF-8''J%C3%A4s%c3%b8n%20Doe", "Jäsøn Doe", true},
		{"utf-8'en'abc!#$&+-.^_`|~", "abc!#$&+-.^_`|~", true},
		{"UTF-8''", "", true},
		{"UTF-8''a b", "", false},
		{"UTF-8''J\xc3\xa4son", "", false},
		{"UTF-8''a(b)", "", false},
		{"UTF-8''a%2", "", false},
		{"UTF-8''a%zz", "", false},
		{"ISO-8859-1''abc", "", false},
		{"UTF-8'abc", "", false},
	} {
		got, err := decodeExtValue(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("decodeExtValue(%q) = %q, %v", tc.in, got, err)
			continue
		}
		if tc.ok {
			if enc := "UTF-8''" + percentEncode(got); len(enc) > len(tc.in) {
				t.Errorf("%q writes back longer: %q", tc.in, enc)
			}
		}
	}
}
