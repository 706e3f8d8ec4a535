package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/sspihttp"
)

const serveUsage = `Usage: sspi serve [options]

Run a test HTTP server that requires authentication and answers each
authenticated request with who the client is. Each request is logged on
standard error. Stop it with Ctrl-C.

Options:
  --negotiate     require Negotiate (Kerberos with --keytab, NTLM with -u)
  --kerberos      offer the bare Kerberos scheme (needs --keytab)
  --ntlm          offer NTLM (needs -u)
  --digest        offer Digest (needs -u)
                  With none of these, every scheme whose credentials are
                  given is offered.
  -u user         a user NTLM and Digest accept (repeatable); DOMAIN\user
                  restricts an NTLM user to one domain. Its password is
                  read from the environment variable SSPI_SERVE_PASSWORD
                  or, when that is unset, asked for on the terminal (or
                  read as a line from standard input)
  --users file    the users NTLM and Digest accept, one user:password per
                  line (blank lines and lines starting with # are
                  skipped); keep the file readable by its owner only
  -u user:password
                  still accepted, with a warning: a password on the
                  command line is visible to every user of the machine
                  (ps, /proc) and stays in the shell's history
  --keytab file   the keytab of the HTTP/<host> service principal for
                  Kerberos and Negotiate (default: KRB5_KTNAME)
  --realm name    the Digest realm (default "gosspi")
  --addr host:port
                  where to listen (default 127.0.0.1:8080; port 0 picks one)
  --persist       keep a connection authenticated after its first
                  Negotiate, Kerberos or NTLM handshake, as IIS does
  --tls           serve https with a new self-signed certificate for
                  localhost and 127.0.0.1 (clients need -k)
  --bindings      require TLS channel bindings (tls-server-end-point) in
                  Negotiate, Kerberos and NTLM: Windows' Extended
                  Protection; implies --tls
  --handshake-timeout duration
                  drop a Negotiate, Kerberos or NTLM handshake whose
                  client does not send its next leg in time (default 30s)
  --max-pending n drop the oldest handshake waiting for its next leg when
                  one client address has more than n (default 256)

The server reads request headers within 10s and closes connections idle
for 2 minutes. Each failed authentication is logged on standard error
(level WARN) with its reason, never with a password or a token.

Example:
  echo 'alice:secret' > users && chmod 600 users
  sspi serve --ntlm --digest --users users &
  curl --ntlm -u alice:secret http://127.0.0.1:8080/
  sspi get --digest -u alice:secret http://127.0.0.1:8080/
`

var serveCommand = &command{
	name:    "serve",
	summary: "run a test HTTP server that requires a chosen scheme",
	usage:   serveUsage,
	run:     runServe,
}

// serveOptions are the parsed options of sspi serve.
type serveOptions struct {
	schemes  []string
	users    multiFlag // user:password
	keytab   string
	realm    string
	addr     string
	persist  bool
	tls      bool
	bindings bool

	handshakeTimeout time.Duration
	maxPending       int
}

// serveEnvPassword names the environment variable holding the password of
// the -u users given without one.
const serveEnvPassword = "SSPI_SERVE_PASSWORD"

// parseServe parses the options of sspi serve; readPassword is asked for
// the password of a -u user given without one when SSPI_SERVE_PASSWORD
// is unset.
func parseServe(args []string, stderr io.Writer) (*serveOptions, error) {
	return parseServeWith(args, stderr, promptPassword(stderr))
}

func parseServeWith(args []string, stderr io.Writer, readPassword func(user string) (string, error)) (*serveOptions, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	o := &serveOptions{}
	var neg, krb, nt, dg bool
	fs.BoolVar(&neg, "negotiate", false, "")
	fs.BoolVar(&krb, "kerberos", false, "")
	fs.BoolVar(&nt, "ntlm", false, "")
	fs.BoolVar(&dg, "digest", false, "")
	var names multiFlag
	var usersFile string
	fs.Var(&names, "u", "")
	fs.StringVar(&usersFile, "users", "", "")
	fs.DurationVar(&o.handshakeTimeout, "handshake-timeout", sspihttp.DefaultHandshakeTimeout, "")
	fs.IntVar(&o.maxPending, "max-pending", sspihttp.DefaultMaxPendingPerAddr, "")
	fs.StringVar(&o.keytab, "keytab", os.Getenv("KRB5_KTNAME"), "")
	fs.StringVar(&o.realm, "realm", "", "")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "")
	fs.BoolVar(&o.persist, "persist", false, "")
	fs.BoolVar(&o.tls, "tls", false, "")
	fs.BoolVar(&o.bindings, "bindings", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.keytab = strings.TrimPrefix(o.keytab, "FILE:")
	if o.bindings {
		o.tls = true
	}
	for _, s := range []struct {
		on   bool
		name string
	}{{neg, sspihttp.SchemeNegotiate}, {krb, sspihttp.SchemeKerberos}, {nt, sspihttp.SchemeNTLM}, {dg, sspihttp.SchemeDigest}} {
		if s.on {
			o.schemes = append(o.schemes, s.name)
		}
	}
	if usersFile != "" {
		users, err := readUsersFile(usersFile, stderr)
		if err != nil {
			return nil, err
		}
		o.users = append(o.users, users...)
	}
	warned := false
	for _, u := range names {
		name, _, hasPass := strings.Cut(u, ":")
		if name == "" {
			return nil, fmt.Errorf("-u %q: no user name", u)
		}
		if hasPass {
			if !warned {
				fmt.Fprintf(stderr, "sspi serve: WARNING: a password given with -u user:password is visible to every user of this machine (ps, /proc) and stays in the shell's history; use --users FILE, %s or the prompt\n", serveEnvPassword)
				warned = true
			}
			o.users = append(o.users, u)
			continue
		}
		pass, ok := os.LookupEnv(serveEnvPassword)
		if !ok {
			var err error
			if pass, err = readPassword(name); err != nil {
				return nil, err
			}
		}
		o.users = append(o.users, name+":"+pass)
	}
	if len(o.schemes) == 0 {
		if o.keytab != "" {
			o.schemes = append(o.schemes, sspihttp.SchemeNegotiate)
		}
		if len(o.users) > 0 {
			if o.keytab == "" {
				o.schemes = append(o.schemes, sspihttp.SchemeNegotiate)
			}
			o.schemes = append(o.schemes, sspihttp.SchemeNTLM, sspihttp.SchemeDigest)
		}
	}
	if len(o.schemes) == 0 {
		return nil, errors.New("nothing to authenticate with: give --users FILE or -u user (NTLM, Digest) or --keytab (Kerberos)")
	}
	for _, s := range o.schemes {
		switch {
		case s == sspihttp.SchemeKerberos && o.keytab == "":
			return nil, errors.New("--kerberos needs --keytab (or KRB5_KTNAME)")
		case (s == sspihttp.SchemeNTLM || s == sspihttp.SchemeDigest) && len(o.users) == 0:
			return nil, fmt.Errorf("--%s needs at least one user (--users FILE or -u user)", strings.ToLower(s))
		case s == sspihttp.SchemeNegotiate && o.keytab == "" && len(o.users) == 0:
			return nil, errors.New("--negotiate needs --keytab (Kerberos) or users (--users FILE or -u user) for NTLM")
		}
	}
	return o, nil
}

// server builds the middleware of o.
func (o *serveOptions) server(logw io.Writer) *sspihttp.Server {
	nt := ntlm.Users{}
	var dg digest.Users
	for _, u := range o.users {
		name, pass, _ := strings.Cut(u, ":")
		nt[name] = pass
		if _, short, ok := strings.Cut(name, `\`); ok {
			name = short
		}
		dg = append(dg, digest.User{Name: name, Password: pass})
	}
	// A private registry: the NTLM acceptor takes clients that send no
	// MIC (curl, go-ntlmssp), as a test server should.
	ntp := ntlm.New(nil)
	krb := kerberos.New(nil)
	reg := sspi.NewRegistry()
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntp}))
	reg.Register(krb)
	reg.Register(ntp)
	reg.Register(digest.New(nil))
	s := &sspihttp.Server{Registry: reg, Schemes: o.schemes, Realm: o.realm, PersistConnection: o.persist,
		ErrorLog:          log.New(logw, "sspi serve: ", 0),
		AuditLog:          slog.New(slog.NewTextHandler(logw, nil)),
		HandshakeTimeout:  o.handshakeTimeout,
		MaxPendingPerAddr: o.maxPending}
	if o.handshakeTimeout == 0 {
		s.HandshakeTimeout = -1 // 0 on the command line: none
	}
	if o.maxPending == 0 {
		s.MaxPendingPerAddr = -1
	}
	var kt any
	if o.keytab != "" {
		kt = &kerberos.Keytab{Path: o.keytab}
		s.Kerberos = kt
	}
	if len(nt) > 0 {
		s.NTLM = nt
		s.Digest = dg
	}
	s.Negotiate = &negotiate.AuthData{Kerberos: kt, NTLM: s.NTLM}
	if kt == nil {
		s.Negotiate = &negotiate.AuthData{NTLM: nt, PackageList: "NTLM"}
	}
	return s
}

// serve runs the server until stop is closed; ready gets its URL.
func (o *serveOptions) serve(stdout, stderr io.Writer, ready func(url string), stop <-chan struct{}) error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	scheme := "http"
	var cert *x509.Certificate
	if o.tls {
		var tc *tls.Config
		if tc, cert, err = selfSigned(); err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	var mu sync.Mutex
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := sspihttp.IdentityFromContext(r.Context())
		mu.Lock()
		fmt.Fprintf(stderr, "%s %s %s: %s via %s/%s\n", r.RemoteAddr, r.Method, r.URL.RequestURI(), id.Name, id.Scheme, id.Package)
		mu.Unlock()
		fmt.Fprintf(w, "hello %s (%s/%s)\n", id.Name, id.Scheme, id.Package)
	})
	as := o.server(stderr)
	if o.bindings {
		as.ChannelBindings = sspihttp.TLSServerEndPoint(cert)
		as.RequireChannelBindings = true
	}
	srv := as.HTTPServer("", hello) // read-header and idle timeouts, per-connection cleanup
	srv.ErrorLog = log.New(stderr, "sspi serve: ", 0)
	url := scheme + "://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "listening on %s (%s)\n", url, strings.Join(o.schemes, ", "))
	if cert != nil {
		fmt.Fprintf(stdout, "certificate SHA-256 %X\n", sha256.Sum256(cert.Raw))
	}
	if ready != nil {
		ready(url)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-stop:
		return srv.Shutdown(context.Background())
	}
}

// selfSigned makes a TLS configuration with a new ECDSA P-256 certificate
// for localhost and 127.0.0.1, valid for a day.
func selfSigned() (*tls.Config, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "sspi serve"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		NextProtos: []string{"http/1.1"}}, cert, nil
}

func runServe(args []string, stdout, stderr io.Writer) int {
	o, err := parseServe(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		if !strings.Contains(err.Error(), "flag provided but not defined") {
			fmt.Fprintf(stderr, "sspi serve: %v\nRun 'sspi help serve' for usage.\n", err)
		}
		return exitUsage
	}
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		<-sig
		close(stop)
	}()
	if err := o.serve(stdout, stderr, nil, stop); err != nil {
		fmt.Fprintf(stderr, "sspi serve: %v\n", err)
		return exitFailure
	}
	return exitOK
}
