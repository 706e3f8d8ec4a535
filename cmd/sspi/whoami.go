package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

var whoamiCommand = &command{
	name:    "whoami",
	summary: "explain which credentials, realm and KDCs Kerberos would use, and why Negotiate would fall back",
	usage:   whoamiUsage,
	run:     runWhoami,
}

const whoamiUsage = `usage: sspi whoami [-u user[:password]] [-t target] [-m seconds]

Explains, step by step, what Kerberos would do with no further
configuration: the krb5.conf read (if any), the credentials found (the
credential cache named by KRB5CCNAME, default_ccache_name or the platform
default, or the user given with -u), the realm (a DNS domain upper-cased,
a NetBIOS domain mapped through krb5.conf or the DC locator), and how the
realm's KDCs were found (krb5.conf, DNS SRV records, the Active Directory
_msdcs records). With -t it also starts a Negotiate context for the target
and says whether Kerberos was used or, if Negotiate fell back to NTLM, why.

Options:
  -u user[:password]  explicit credentials: DOMAIN\user, user@domain or
                      user (a password is needed only with -t)
  -t target           a service to try: an SPN (HTTP/web.example.com) or a
                      host-based name (HTTP@web.example.com)
  -m seconds          give up after this long (default 30)

The exit status is 0 when Kerberos can be used (and, with -t, was used),
1 otherwise.
`

func runWhoami(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("whoami", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, whoamiUsage) }
	user := fs.String("u", "", "")
	target := fs.String("t", "", "")
	maxTime := fs.Int("m", 30, "")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "sspi whoami: unexpected arguments\nRun 'sspi help whoami' for usage.")
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*maxTime)*time.Second)
	defer cancel()
	krb := kerberos.New(nil)
	w := &explainer{out: stdout, ok: true}

	// Configuration.
	switch file, err := krb.ConfigFile(); {
	case err != nil:
		w.fail("krb5.conf", "cannot be read: %v", err)
		return exitFailure
	case file != "":
		w.line("krb5.conf", "%s", file)
	case os.Getenv("KRB5_CONFIG") != "":
		w.line("krb5.conf", "none (KRB5_CONFIG=%s names no file): realms and KDCs come from DNS", os.Getenv("KRB5_CONFIG"))
	default:
		w.line("krb5.conf", "none (/etc/krb5.conf is absent): realms and KDCs come from DNS")
	}

	// Credentials.
	id, err := parseUser(*user, func(string) (string, error) { return "", nil })
	if err != nil {
		fmt.Fprintf(stderr, "sspi whoami: %v\n", err)
		return exitUsage
	}
	var authData any
	var realm string
	if id != nil {
		authData = id
		desc := "user " + id.User
		if id.Domain != "" {
			desc += " in domain " + id.Domain
		}
		if id.Password == "" {
			desc += " (no password: no ticket is requested)"
		}
		w.line("credentials", "explicit (-u): %s", desc)
		domain := id.Domain
		if domain == "" {
			w.fail("realm", "none: give the user as DOMAIN\\user or user@domain")
			return w.status()
		}
		r, how, err := krb.MapDomain(ctx, domain)
		if err != nil {
			w.fail("realm", "%v", err)
			return w.status()
		}
		realm = r
		w.line("realm", "%s (%s)", realm, how)
	} else {
		// The cache AcquireCredentials reads first, then what it falls
		// back to: the client keytab.
		var cred packages.Credentials
		cc, ccErr := krb.ReadCCache(ctx, "")
		desc := "default: credential cache"
		if ccErr == nil {
			desc = fmt.Sprintf("default: credential cache %s (from %s)", cc.Name, cc.Source)
			cred, ccErr = krb.AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, &kerberos.CCache{Path: cc.Name})
		}
		if ccErr != nil {
			var err error
			cred, err = krb.AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, nil)
			if err != nil {
				w.fail("credentials", "%s not usable: %v", desc, ccErr)
				w.line("hint", "run kinit, set KRB5CCNAME, or pass -u DOMAIN\\user:password")
				return w.status()
			}
			w.line("credentials", "%s not usable: %v", desc, ccErr)
			desc = "default: the client keytab (KRB5_CLIENT_KTNAME or default_client_keytab_name)"
		}
		principal := cred.UserName()
		exp := cred.Expiry()
		cred.Free()
		desc += ": " + principal
		if !exp.IsZero() {
			desc += ", TGT valid until " + exp.Local().Format(time.DateTime)
		}
		w.line("credentials", "%s", desc)
		if i := strings.LastIndexByte(principal, '@'); i >= 0 {
			realm = principal[i+1:]
		}
		w.line("realm", "%s (the credentials' client principal)", realm)
	}

	// KDCs.
	loc, err := krb.LocateKDCs(ctx, realm)
	queries := ""
	if len(loc.Queries) > 0 {
		queries = " (asked " + strings.Join(loc.Queries, ", ") + ")"
	}
	if err != nil {
		w.fail("KDCs", "none found: %v", err)
	} else {
		w.line("KDCs", "found by %s%s: %s", loc.Source, queries, strings.Join(loc.KDCs, ", "))
	}

	if *target == "" {
		return w.status()
	}
	if id != nil && id.Password == "" {
		w.fail("target", "%s: not tried, -u has no password", *target)
		return w.status()
	}
	// Negotiate on the same Kerberos package, as an application would.
	reg := sspi.NewRegistry()
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlm.New(nil)}))
	reg.Register(krb)
	cred, err := reg.AcquireCredentialsFor(ctx, "Negotiate", "", sspi.CredentialsOutbound, authData)
	if err != nil {
		w.fail("target", "%s: Negotiate credentials: %v", *target, err)
		return w.status()
	}
	defer cred.Free()
	c, err := sspi.NewClientContext(cred, *target, sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		w.fail("target", "%s: %v", *target, err)
		return w.status()
	}
	defer c.Delete()
	_, err = c.Step(ctx, nil)
	switch reason := c.FallbackReason(); {
	case reason != nil:
		w.fail("Negotiate", "%s: fell back to NTLM; Kerberos was not used because: %v", *target, reason)
	case err != nil:
		w.fail("Negotiate", "%s: %v", *target, err)
	case c.NegotiatedPackage() == "Kerberos" || strings.EqualFold(c.NegotiatedPackage(), "Negotiate"):
		w.line("Negotiate", "%s: Kerberos (a service ticket was obtained)", *target)
	default:
		w.fail("Negotiate", "%s: %s was chosen", *target, c.NegotiatedPackage())
	}
	return w.status()
}

// explainer prints "label: text" lines and remembers failures.
type explainer struct {
	out io.Writer
	ok  bool
}

func (e *explainer) line(label, format string, args ...any) {
	fmt.Fprintf(e.out, "%-12s %s\n", label+":", fmt.Sprintf(format, args...))
}

func (e *explainer) fail(label, format string, args ...any) {
	e.ok = false
	e.line(label, format, args...)
}

func (e *explainer) status() int {
	if e.ok {
		return exitOK
	}
	return exitFailure
}
