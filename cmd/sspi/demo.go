package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

const demoUsage = `Usage: sspi demo [-p package] [--async]

For every registered security package that can run on this machine alone,
acquire client and server credentials, run InitializeSecurityContextW
against AcceptSecurityContext in process (each leg's status and token size
is printed), then send a signed and a sealed message and verify them.
Packages that need something absent (a KDC, a certificate) are reported as
skipped, with what to set to enable them.

Options:
  -p name   run only the package called name (case-insensitive)
  --async   make the handshake calls through the async family
            (SspiInitializeSecurityContextAsyncW, SspiAcceptSecurityContextAsync)
  --no-kdc  do not start a test Kerberos realm

Kerberos and Negotiate use the realm of KRB5_CONFIG when KRB5_KTNAME names
a service keytab (the client then uses the ticket cache of kinit);
otherwise the demo starts a throwaway realm, GOSSPI.TEST on 127.0.0.1:
on MIT krb5kdc (scripts/testkdc.sh) when MIT Kerberos is installed, else
on the KDC built into this module (package kdc), and says which.
SSPI_TEST_KDC=go picks the built-in KDC even where MIT's is installed,
SSPI_TEST_KDC=mit requires MIT's. With --no-kdc and no realm, Kerberos is
skipped and Negotiate falls back to NTLM, and the demo says so.

Exit status: 0 if every package that ran succeeded, 1 otherwise.
`

var demoCommand = &command{
	name:    "demo",
	summary: "run each local package: client against server in process",
	usage:   demoUsage,
	run:     runDemo,
}

// demoCase says how to run one package locally. To add a package, write
// its case in a demo_<package>.go file and list it in demoCases.
type demoCase struct {
	pkg    string // package name as registered
	target string // pszTargetName of InitializeSecurityContextW

	clientReq uint32 // ISC_REQ_* flags
	serverReq uint32 // ASC_REQ_* flags

	// credentials returns the pAuthData of the client and of the server
	// credentials, or, when the package cannot run here, a reason to skip
	// it that says how to enable it.
	credentials func() (client, server any, skip string)

	// serverFirst makes the server speak first (HTTP Digest's challenge):
	// AcceptSecurityContext is called once with no input token.
	serverFirst bool
	// stream marks a Schannel-style package: handshake input carries a
	// SECBUFFER_EMPTY buffer after the token, and messages use
	// SECPKG_ATTR_STREAM_SIZES framing instead of signatures.
	stream bool

	// label names the case when a package has several (WDigest's HTTP
	// and SASL forms); it is printed before the case's legs.
	label string
	// clientIn and serverIn are added after the token to every input of
	// that side (WDigest HTTP: the SECBUFFER_PKG_PARAMS method and URI).
	clientIn, serverIn []secbuffer.Buffer
	// labelFunc and targetFunc, if set, give label and target when the
	// demo runs (the Kerberos realm is found then).
	labelFunc  func() string
	targetFunc func() string
	// messages, if set, replaces the signed and sealed messages sent
	// after the handshake.
	messages func(w io.Writer, client, server *sspi.CtxtHandle) error
}

// demoCases lists the packages the demo knows how to run.
var demoCases = []*demoCase{
	negotiateDemo,
	kerberosDemo,
	ntlmDemo,
	digestDemo,
	digestHTTPDemo,
	schannelDemo,
	unispDemo,
}

// handshaker makes the two handshake calls. syncHandshaker calls the flat
// functions directly; another implementation may, for instance, queue
// them asynchronously and wait.
type handshaker interface {
	initialize(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, target *uint16, req uint32, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS
	accept(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, req uint32, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS
}

type syncHandshaker struct{}

func (syncHandshaker) initialize(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, target *uint16, req uint32, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS {
	return sspi.InitializeSecurityContextW(cred, ctx, target, req, 0, sspi.SECURITY_NATIVE_DREP, in, 0, newCtx, out, attr, nil)
}

func (syncHandshaker) accept(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, req uint32, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS {
	return sspi.AcceptSecurityContext(cred, ctx, in, req, sspi.SECURITY_NATIVE_DREP, newCtx, out, attr, nil)
}

// demoOptions are the command-line options of sspi demo.
type demoOptions struct {
	only string     // -p: run only this package
	hs   handshaker // how the handshake calls are made
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage) }
	opts := demoOptions{hs: syncHandshaker{}}
	fs.StringVar(&opts.only, "p", "", "run only this package")
	useAsync := fs.Bool("async", false, "make the handshake calls through the async family")
	noKDC := fs.Bool("no-kdc", false, "do not start a test Kerberos realm")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	startKDC = !*noKDC
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sspi demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *useAsync {
		ah := newAsyncHandshaker()
		defer ah.free()
		opts.hs = ah
	}

	defer stopRealm()
	var n uint32
	var first *sspi.SecPkgInfoW
	if st := sspi.EnumerateSecurityPackagesW(&n, &first); st != sspi.SEC_E_OK {
		fmt.Fprintf(stderr, "sspi demo: EnumerateSecurityPackagesW: %v\n", st)
		return exitFailure
	}
	ran, failed, found := 0, 0, false
	for _, info := range unsafe.Slice(first, n) {
		name := sspi.UTF16PtrToString(info.Name)
		if opts.only != "" && !strings.EqualFold(opts.only, name) {
			continue
		}
		found = true
		fmt.Fprintf(stdout, "== %s (%s)\n", name, sspi.UTF16PtrToString(info.Comment))
		dcs := findDemos(name)
		if len(dcs) == 0 {
			fmt.Fprintf(stdout, "   skipped: no local demo for this package\n\n")
			continue
		}
		pkgRan, pkgFailed := false, false
		for _, dc := range dcs {
			label := dc.label
			if dc.labelFunc != nil {
				label = dc.labelFunc()
			}
			if label != "" {
				fmt.Fprintf(stdout, "   -- %s\n", label)
			}
			clientData, serverData, skip := dc.credentials()
			if skip != "" {
				fmt.Fprintf(stdout, "   skipped: %s\n\n", skip)
				continue
			}
			pkgRan = true
			if err := runDemoCase(stdout, opts, dc, info.MaxToken, clientData, serverData); err != nil {
				pkgFailed = true
				fmt.Fprintf(stdout, "   FAILED: %v\n\n", err)
				continue
			}
			fmt.Fprintf(stdout, "   ok\n\n")
		}
		if pkgRan {
			ran++
		}
		if pkgFailed {
			failed++
		}
	}
	if opts.only != "" && !found {
		fmt.Fprintf(stderr, "sspi demo: no package named %q; run 'sspi packages'\n", opts.only)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%d package(s) ran, %d failed\n", ran, failed)
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}

// findDemos returns the cases of the package called name, in table order.
func findDemos(name string) []*demoCase {
	var out []*demoCase
	for _, dc := range demoCases {
		if strings.EqualFold(dc.pkg, name) {
			out = append(out, dc)
		}
	}
	return out
}

// errStatus is a failed call.
type errStatus struct {
	call string
	st   sspi.SECURITY_STATUS
}

func (e *errStatus) Error() string { return fmt.Sprintf("%s: %s", e.call, e.st.Error()) }

func check(call string, st sspi.SECURITY_STATUS) error {
	if st.Failed() {
		return &errStatus{call, st}
	}
	return nil
}

// runDemoCase runs one package: credentials, handshake, messages.
func runDemoCase(w io.Writer, opts demoOptions, dc *demoCase, maxToken uint32, clientData, serverData any) error {
	pkg, err := sspi.UTF16PtrFromString(dc.pkg)
	if err != nil {
		return err
	}
	targetName := dc.target
	if dc.targetFunc != nil {
		targetName = dc.targetFunc()
	}
	target, err := sspi.UTF16PtrFromString(targetName)
	if err != nil {
		return err
	}
	var ccred, scred sspi.CredHandle
	st := sspi.AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_OUTBOUND, nil, clientData, 0, 0, &ccred, nil)
	fmt.Fprintf(w, "   %-28s %-8s %s\n", "AcquireCredentialsHandleW", "client", st.String())
	if err := check("AcquireCredentialsHandleW", st); err != nil {
		return err
	}
	defer sspi.FreeCredentialsHandle(&ccred)
	st = sspi.AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_INBOUND, nil, serverData, 0, 0, &scred, nil)
	fmt.Fprintf(w, "   %-28s %-8s %s\n", "AcquireCredentialsHandleW", "server", st.String())
	if err := check("AcquireCredentialsHandleW", st); err != nil {
		return err
	}
	defer sspi.FreeCredentialsHandle(&scred)

	var client, server sspi.CtxtHandle
	haveClient, haveServer := false, false
	defer func() {
		if haveClient {
			sspi.DeleteSecurityContext(&client)
		}
		if haveServer {
			sspi.DeleteSecurityContext(&server)
		}
	}()

	input := func(tok []byte, client bool) *secbuffer.Desc {
		d := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: tok}}}
		if dc.stream {
			d.Buffers = append(d.Buffers, secbuffer.Buffer{Type: sspi.SECBUFFER_EMPTY})
		}
		extra := dc.serverIn
		if client {
			extra = dc.clientIn
		}
		d.Buffers = append(d.Buffers, extra...)
		return d
	}
	var tok []byte
	clientTurn := !dc.serverFirst
	clientDone, serverDone := false, false
	for leg := 0; !(clientDone && serverDone); leg++ {
		if leg == 20 {
			return errors.New("handshake did not finish in 20 legs")
		}
		out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}}
		var attr uint32
		var call string
		if clientTurn {
			call = "InitializeSecurityContextW"
			var in *secbuffer.Desc
			var ctx *sspi.CtxtHandle
			if haveClient {
				ctx = &client
			}
			if haveClient || leg > 0 { // after a serverFirst challenge too
				in = input(tok, true)
			}
			st = opts.hs.initialize(&ccred, ctx, target, dc.clientReq, in, &client, out, &attr)
			haveClient = haveClient || st.Succeeded()
		} else {
			call = "AcceptSecurityContext"
			var in *secbuffer.Desc
			if leg > 0 {
				in = input(tok, false)
			}
			var ctx *sspi.CtxtHandle
			if haveServer {
				ctx = &server
			}
			st = opts.hs.accept(&scred, ctx, in, dc.serverReq, &server, out, &attr)
			haveServer = haveServer || st.Succeeded()
		}
		tok = out.Buffers[0].Data
		fmt.Fprintf(w, "   %-28s %-28s %5d bytes\n", call, st.String(), len(tok))
		if err := check(call, st); err != nil {
			return err
		}
		if st == sspi.SEC_I_COMPLETE_NEEDED || st == sspi.SEC_I_COMPLETE_AND_CONTINUE {
			h := &client
			if !clientTurn {
				h = &server
			}
			cst := sspi.CompleteAuthToken(h, out)
			fmt.Fprintf(w, "   %-28s %s\n", "CompleteAuthToken", cst.String())
			if err := check("CompleteAuthToken", cst); err != nil {
				return err
			}
			tok = out.Buffers[0].Data
		}
		done := st == sspi.SEC_E_OK || st == sspi.SEC_I_COMPLETE_NEEDED
		if clientTurn {
			clientDone = done
		} else {
			serverDone = done
		}
		if done && len(tok) == 0 && !(clientDone && serverDone) {
			return fmt.Errorf("%s finished with no token while the peer is not done", call)
		}
		clientTurn = !clientTurn
	}

	var names sspi.SecPkgContext_NamesW
	if st := sspi.QueryContextAttributesW(&server, sspi.SECPKG_ATTR_NAMES, &names); st == sspi.SEC_E_OK {
		fmt.Fprintf(w, "   authenticated client: %s\n", sspi.UTF16PtrToString(names.UserName))
	}
	var ni sspi.SecPkgContext_NegotiationInfoW
	if st := sspi.QueryContextAttributesW(&client, sspi.SECPKG_ATTR_NEGOTIATION_INFO, &ni); st == sspi.SEC_E_OK && ni.PackageInfo != nil {
		if sel := sspi.UTF16PtrToString(ni.PackageInfo.Name); !strings.EqualFold(sel, dc.pkg) {
			fmt.Fprintf(w, "   negotiated package: %s\n", sel)
		}
	}
	if dc.messages != nil {
		return dc.messages(w, &client, &server)
	}
	if dc.stream {
		return streamMessages(w, &client, &server)
	}
	return tokenMessages(w, &client, &server)
}

// tokenMessages sends a signed and a sealed message from client to server
// with the NTLM/Kerberos buffer layouts (SECPKG_ATTR_SIZES).
func tokenMessages(w io.Writer, client, server *sspi.CtxtHandle) error {
	var sizes sspi.SecPkgContext_Sizes
	if err := check("QueryContextAttributesW(SIZES)", sspi.QueryContextAttributesW(client, sspi.SECPKG_ATTR_SIZES, &sizes)); err != nil {
		return err
	}
	msg := []byte("signed: hello from the client")
	signed := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_DATA, Data: msg},
		{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.MaxSignature)},
	}}
	if err := check("MakeSignature", sspi.MakeSignature(client, 0, signed, 0)); err != nil {
		return err
	}
	st := sspi.VerifySignature(server, signed, 0, nil)
	fmt.Fprintf(w, "   %-28s %-28s %5d-byte signature\n", "MakeSignature/Verify", st.String(), len(signed.Buffers[1].Data))
	if err := check("VerifySignature", st); err != nil {
		return err
	}

	plain := []byte("sealed: hello from the client")
	data := append([]byte(nil), plain...)
	sealed := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
		{Type: sspi.SECBUFFER_DATA, Data: data},
		{Type: sspi.SECBUFFER_PADDING, Data: make([]byte, 0, sizes.BlockSize)},
	}}
	if err := check("EncryptMessage", sspi.EncryptMessage(client, 0, sealed, 0)); err != nil {
		return err
	}
	if bytes.Equal(data, plain) {
		return errors.New("EncryptMessage left the data in the clear")
	}
	trailer := len(sealed.Buffers[0].Data)
	st = sspi.DecryptMessage(server, sealed, 0, nil)
	fmt.Fprintf(w, "   %-28s %-28s %5d-byte trailer\n", "EncryptMessage/Decrypt", st.String(), trailer)
	if err := check("DecryptMessage", st); err != nil {
		return err
	}
	if got := sealed.Buffers[1].Data; !bytes.Equal(got, plain) {
		return fmt.Errorf("DecryptMessage gave %q, want %q", got, plain)
	}
	return nil
}

// streamMessages sends a sealed record from client to server with the
// Schannel layouts (SECPKG_ATTR_STREAM_SIZES).
func streamMessages(w io.Writer, client, server *sspi.CtxtHandle) error {
	var sizes sspi.SecPkgContext_StreamSizes
	if err := check("QueryContextAttributesW(STREAM_SIZES)", sspi.QueryContextAttributesW(client, sspi.SECPKG_ATTR_STREAM_SIZES, &sizes)); err != nil {
		return err
	}
	plain := []byte("sealed: hello from the client")
	rec := make([]byte, int(sizes.Header)+len(plain)+int(sizes.Trailer))
	copy(rec[sizes.Header:], plain)
	hdr, body, trl := rec[:sizes.Header], rec[sizes.Header:int(sizes.Header)+len(plain)], rec[int(sizes.Header)+len(plain):]
	enc := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_STREAM_HEADER, Data: hdr},
		{Type: sspi.SECBUFFER_DATA, Data: body},
		{Type: sspi.SECBUFFER_STREAM_TRAILER, Data: trl},
		{Type: sspi.SECBUFFER_EMPTY},
	}}
	if err := check("EncryptMessage", sspi.EncryptMessage(client, 0, enc, 0)); err != nil {
		return err
	}
	var wire []byte
	for _, b := range enc.Buffers[:3] {
		wire = append(wire, b.Data...)
	}
	dec := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_DATA, Data: wire},
		{Type: sspi.SECBUFFER_EMPTY}, {Type: sspi.SECBUFFER_EMPTY}, {Type: sspi.SECBUFFER_EMPTY},
	}}
	st := sspi.DecryptMessage(server, dec, 0, nil)
	fmt.Fprintf(w, "   %-28s %-28s %5d-byte record\n", "EncryptMessage/Decrypt", st.String(), len(wire))
	if err := check("DecryptMessage", st); err != nil {
		return err
	}
	d := secbuffer.Find(dec.Buffers, sspi.SECBUFFER_DATA)
	if d == nil || !bytes.Equal(d.Data, plain) {
		return errors.New("DecryptMessage did not return the plaintext")
	}
	return nil
}
