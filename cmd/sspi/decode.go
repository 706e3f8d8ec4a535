package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const decodeUsage = `Usage: sspi decode [token | header]...

Print the structure of authentication tokens, as a protocol analyser would:
  NTLM       NEGOTIATE, CHALLENGE and AUTHENTICATE with flags, names,
             AV pairs, the NTLMv2 response and the MIC (MS-NLMP 2.2)
  SPNEGO     NegTokenInit (mechanisms, reqFlags, mechToken, negHints,
             mechListMIC) and NegTokenResp (negState, supportedMech,
             responseToken, mechListMIC), decoding the tokens inside
  Kerberos   the clear parts of AP-REQ (ticket realm, service, enctypes,
             kvno), AP-REP and KRB-ERROR (error code, e-text), bare or in
             a GSS-API token (RFC 4120, RFC 4121)
  Digest     challenge, response and Authentication-Info fields (RFC 7616)

A token is base64 or hex. It may come with its scheme ("Negotiate TlRM...")
or as a whole header line ("WWW-Authenticate: NTLM TlRM..."); lines copied
from curl -v ("> Authorization: ...", "< WWW-Authenticate: ...") work too.
With no argument, or "-", lines are read from standard input and each line
that holds a token is decoded. Secrets are never printed in clear: Basic
passwords are hidden, and responses and keys appear as sizes or hashes.

Examples:
  sspi decode 'WWW-Authenticate: Negotiate oRQwEqADCgEBoQsGCSqGSIb3EgECAg=='
  curl -sv --negotiate -u : http://web.example.com/ 2>&1 | sspi decode

Exit status: 0 if every token decoded cleanly, 1 if one was malformed,
2 for a bad command line.
`

var decodeCommand = &command{
	name:    "decode",
	summary: "print the structure of an NTLM, SPNEGO, Kerberos or Digest token",
	usage:   decodeUsage,
	run:     runDecode,
}

// decodeStdin is where runDecode reads tokens from when given none; tests
// replace it.
var decodeStdin io.Reader = os.Stdin

func runDecode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, decodeUsage) }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	tokens := fs.Args()
	fromStdin := len(tokens) == 0 || len(tokens) == 1 && tokens[0] == "-"
	if fromStdin {
		tokens = nil
		sc := bufio.NewScanner(decodeStdin)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if line := cleanLine(sc.Text()); holdsToken(line) {
				tokens = append(tokens, line)
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "sspi decode: reading standard input: %v\n", err)
			return exitFailure
		}
		if len(tokens) == 0 {
			fmt.Fprintln(stderr, "sspi decode: no token on standard input")
			return exitUsage
		}
	}
	code := exitOK
	for i, tok := range tokens {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		in, err := parseInput(cleanLine(tok))
		if err != nil {
			fmt.Fprintf(stderr, "sspi decode: %v: %.40q\n", err, tok)
			code = exitFailure
			continue
		}
		root := decodeInput(in)
		var sb strings.Builder
		root.print(&sb, "")
		fmt.Fprint(stdout, sb.String())
		if hasError(root) {
			code = exitFailure
		}
	}
	return code
}

// cleanLine drops curl -v's direction marks and surrounding space.
func cleanLine(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"> ", "< ", "* "} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.TrimSpace(s)
}

// holdsToken reports whether a line read from standard input is worth
// decoding: an authentication header, a scheme and its token, or a lone
// base64 or hex word.
func holdsToken(line string) bool {
	if name, _, ok := strings.Cut(line, ":"); ok && isHeaderName(name) {
		return true
	}
	word, _, _ := strings.Cut(line, " ")
	if isSchemeWord(word) {
		return true
	}
	if len(line) < 8 || strings.ContainsAny(line, " \t") {
		return false
	}
	for i := 0; i < len(line); i++ {
		if !isToken68Byte(line[i]) {
			return false
		}
	}
	return true
}

func isToken68Byte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-._~+/=", c) >= 0
}

func hasError(n *node) bool {
	if n.label == "error" {
		return true
	}
	for _, c := range n.children {
		if hasError(c) {
			return true
		}
	}
	return false
}
