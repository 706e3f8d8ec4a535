package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/sspihttp"
)

const getUsage = `Usage: sspi get [options] URL

Fetch URL, answering the server's authentication challenge with the
security packages of this module, and write the body to standard output.

Options:
  --negotiate     use Negotiate (SPNEGO: Kerberos, else NTLM)
  --kerberos      use the bare Kerberos scheme
  --ntlm          use NTLM
  --digest        use Digest
  --anyauth       use whichever the server offers (the default), preferring
                  Negotiate, Kerberos, NTLM, Digest
  -u user[:password]
                  the credentials: DOMAIN\user or user@REALM; without
                  :password, the password is read from standard input;
                  -u : (or no -u) uses the default credentials: the Kerberos
                  ticket cache of kinit, NTLM_USER_FILE
  -X method       the request method (default GET, or POST with -d)
  -d data         send data as the request body (@file reads a file)
  -H 'Name: value'
                  add a request header (repeatable)
  -i              include the response status and headers in the output
  -v              show each request and response of the exchange on
                  standard error, with the tokens decoded
  -k              do not verify the server's TLS certificate
  --mutual        require the server to prove its identity (Negotiate and
                  Kerberos final token, Digest rspauth)
  --bindings      send TLS channel bindings (tls-server-end-point)
  --preemptive    send the first Negotiate, Kerberos or NTLM token with the
                  request instead of waiting for the 401 (the first of
                  --negotiate, --kerberos, --ntlm given; Negotiate otherwise)
  --spn name      the service principal name (default HTTP/<host>)
  -x host:port    go through this HTTP proxy (CONNECT), answering its 407
                  with whichever of Negotiate, Kerberos, NTLM, Digest it offers
  -U user[:password]
                  the proxy's credentials, as -u (default: those of -u)
  -m seconds      give up after this many seconds (default 60)

Exit status: 0 for a 2xx response, 1 for another status or a failure,
2 for a bad command line.
`

var getCommand = &command{
	name:    "get",
	summary: "fetch a URL with Negotiate, Kerberos, NTLM or Digest authentication",
	usage:   getUsage,
	run:     runGet,
}

// multiFlag collects a repeated option.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// getStdin is where a password is read from; tests replace it.
var getStdin io.Reader = os.Stdin

// parseUser splits curl's -u value into an identity; nil means the
// default credentials. promptFor is called when the password is missing.
func parseUser(u string, promptFor func(user string) (string, error)) (*sspi.AuthIdentity, error) {
	if u == "" || u == ":" {
		return nil, nil
	}
	user, pass, hasPass := strings.Cut(u, ":")
	if !hasPass {
		p, err := promptFor(user)
		if err != nil {
			return nil, err
		}
		pass = p
	}
	id := &sspi.AuthIdentity{User: user, Password: pass}
	if d, name, ok := strings.Cut(user, `\`); ok {
		id.Domain, id.User = d, name
	} else if name, realm, ok := strings.Cut(user, "@"); ok {
		id.User, id.Domain = name, realm
	}
	return id, nil
}

func runGet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, getUsage) }
	var (
		negotiate = fs.Bool("negotiate", false, "")
		kerberos  = fs.Bool("kerberos", false, "")
		ntlm      = fs.Bool("ntlm", false, "")
		digest    = fs.Bool("digest", false, "")
		anyauth   = fs.Bool("anyauth", false, "")
		user      = fs.String("u", "", "")
		method    = fs.String("X", "", "")
		data      = fs.String("d", "", "")
		include   = fs.Bool("i", false, "")
		verbose   = fs.Bool("v", false, "")
		insecure  = fs.Bool("k", false, "")
		mutual    = fs.Bool("mutual", false, "")
		bindings  = fs.Bool("bindings", false, "")
		preempt   = fs.Bool("preemptive", false, "")
		spn       = fs.String("spn", "", "")
		maxTime   = fs.Int("m", 60, "")
		proxy     = fs.String("x", "", "")
		proxyUser = fs.String("U", "", "")
		headers   multiFlag
	)
	fs.Var(&headers, "H", "")
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "sspi get: exactly one URL is needed\nRun 'sspi help get' for usage.")
		return exitUsage
	}
	target := fs.Arg(0)
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	var schemes []string
	for _, s := range []struct {
		on   bool
		name string
	}{{*negotiate, sspihttp.SchemeNegotiate}, {*kerberos, sspihttp.SchemeKerberos}, {*ntlm, sspihttp.SchemeNTLM}, {*digest, sspihttp.SchemeDigest}} {
		if s.on {
			schemes = append(schemes, s.name)
		}
	}
	if *anyauth {
		schemes = nil
	}
	in := bufio.NewReader(getStdin)
	id, err := parseUser(*user, func(u string) (string, error) {
		fmt.Fprintf(stderr, "Enter host password for user '%s': ", u)
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no password for %q on standard input", u)
		}
		return strings.TrimRight(line, "\r\n"), nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "\nsspi get: %v\n", err)
		return exitFailure
	}
	pid := id
	if *proxyUser != "" {
		if pid, err = parseUser(*proxyUser, func(u string) (string, error) {
			fmt.Fprintf(stderr, "Enter proxy password for user '%s': ", u)
			line, err := in.ReadString('\n')
			if err != nil && line == "" {
				return "", fmt.Errorf("no proxy password for %q on standard input", u)
			}
			return strings.TrimRight(line, "\r\n"), nil
		}); err != nil {
			fmt.Fprintf(stderr, "\nsspi get: %v\n", err)
			return exitFailure
		}
	}

	var body io.Reader
	if *data != "" {
		if name, ok := strings.CutPrefix(*data, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintf(stderr, "sspi get: %v\n", err)
				return exitFailure
			}
			body = strings.NewReader(string(b))
		} else {
			body = strings.NewReader(*data)
		}
		if *method == "" {
			*method = http.MethodPost
		}
	}
	if *method == "" {
		*method = http.MethodGet
	}
	req, err := http.NewRequest(*method, target, body)
	if err != nil {
		fmt.Fprintf(stderr, "sspi get: %v\n", err)
		return exitUsage
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "sspi get: header %q has no colon\n", h)
			return exitUsage
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if *data != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	base := http.DefaultTransport.(*http.Transport).Clone()
	if *insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if *proxy != "" {
		d := &sspihttp.ProxyDialer{Proxy: strings.TrimPrefix(*proxy, "http://")}
		if pid != nil {
			d.Credentials = pid
		}
		if *verbose {
			d.Trace = func(r *http.Request, resp *http.Response) { traceLeg(stderr, r, resp) }
		}
		base.Proxy = nil
		base.DialContext = d.DialContext
	}
	tr := &sspihttp.Transport{Base: base, Schemes: schemes, MutualAuth: *mutual, ChannelBindings: *bindings}
	if id != nil {
		tr.Credentials = id
	}
	if *preempt {
		tr.Preemptive = sspihttp.SchemeNegotiate
		for _, s := range schemes {
			if s != sspihttp.SchemeDigest {
				tr.Preemptive = s
				break
			}
		}
	}
	if *spn != "" {
		name := *spn
		tr.SPN = func(string) string { return name }
	}
	if *verbose {
		tr.Trace = func(r *http.Request, resp *http.Response) { traceLeg(stderr, r, resp) }
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Duration(*maxTime) * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			err = uerr.Unwrap()
		}
		fmt.Fprintf(stderr, "sspi get: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	if *include {
		fmt.Fprintf(stdout, "%s %s\r\n", resp.Proto, resp.Status)
		resp.Header.Write(stdout)
		fmt.Fprint(stdout, "\r\n")
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "sspi get: reading the body: %v\n", err)
		return exitFailure
	}
	if id, ok := identityOf(resp); ok && *verbose {
		fmt.Fprintf(stderr, "* %s\n", id)
	}
	if resp.StatusCode/100 != 2 {
		if *verbose || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusProxyAuthRequired {
			fmt.Fprintf(stderr, "sspi get: %s\n", resp.Status)
		}
		return exitFailure
	}
	return exitOK
}

// identityOf says which scheme the last response's mutual token came in.
func identityOf(resp *http.Response) (string, bool) {
	if resp.StatusCode/100 != 2 {
		return "", false
	}
	for _, v := range resp.Header.Values("Www-Authenticate") {
		scheme, _, _ := strings.Cut(v, " ")
		return "server proved its identity with " + scheme, true
	}
	if resp.Header.Get("Authentication-Info") != "" {
		return "server sent Digest Authentication-Info", true
	}
	return "", false
}

// traceLeg prints one round trip as curl -v does, with each token
// decoded under its header.
func traceLeg(w io.Writer, r *http.Request, resp *http.Response) {
	target := r.URL.RequestURI()
	if r.Method == http.MethodConnect {
		target = r.Host
	}
	fmt.Fprintf(w, "> %s %s %s\n", r.Method, target, "HTTP/1.1")
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	fmt.Fprintf(w, "> Host: %s\n", host)
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, v := range r.Header.Values(name) {
			fmt.Fprintf(w, "> %s: %s\n", name, v)
			printDecoded(w, name+": "+v)
		}
	}
	fmt.Fprintf(w, ">\n< %s %s\n", resp.Proto, resp.Status)
	for _, name := range []string{"Www-Authenticate", "Proxy-Authenticate", "Authentication-Info"} {
		for _, v := range resp.Header.Values(name) {
			fmt.Fprintf(w, "< %s: %s\n", http.CanonicalHeaderKey(name), v)
			printDecoded(w, name+": "+v)
		}
	}
	fmt.Fprintln(w, "<")
}

func printDecoded(w io.Writer, header string) {
	in, err := parseInput(header)
	if err != nil || (len(in.data) == 0 && !in.text) {
		return
	}
	if in.scheme == "Basic" {
		return
	}
	var sb strings.Builder
	for _, c := range decodeInput(in).children {
		if c.label != "scheme" {
			c.print(&sb, "*   ")
		}
	}
	fmt.Fprint(w, sb.String())
}

// reorderArgs moves the one non-flag argument (the URL) after the
// options, so that "sspi get URL -v" works as with curl.
func reorderArgs(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, rest...)
}
