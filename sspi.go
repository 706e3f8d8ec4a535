// Package sspi is a pure-Go emulation of the Windows Security Support
// Provider Interface (SSPI): the same calls, flags, buffers and status
// codes as secur32.dll, with every security package written in Go, so that
// authentication code written for Windows (NTLM, Kerberos, Negotiate,
// Digest, Schannel) runs unchanged on Linux, macOS and Windows, without
// cgo.
//
// The package offers two layers over one implementation:
//
//   - the flat API, Windows-shaped: [AcquireCredentialsHandleW],
//     [InitializeSecurityContextW], [AcceptSecurityContext],
//     [QueryContextAttributesW], [EncryptMessage], ... with their Windows
//     names, parameter order and results, W and A variants, for code ported
//     from C or from golang.org/x/sys/windows-based wrappers;
//   - the Go API: [AcquireCredentials], [NewClientContext],
//     [NewServerContext] and the methods of [*Context] ([Context.Step],
//     [Context.MakeSignature], [Context.Wrap], ...), which return errors
//     and take a [context.Context].
//
// Every constant and structure keeps its Windows spelling
// ([SEC_E_LOGON_DENIED], [ISC_REQ_MUTUAL_AUTH], [SECBUFFER_TOKEN],
// [SecPkgContext_Sizes]), so the Microsoft documentation applies as
// written: see "SSPI functions" at
// https://learn.microsoft.com/windows/win32/secauthn/authentication-functions#sspi-functions.
//
// # A handshake with the Go API
//
// A client acquires outbound credentials, creates a context for a target
// and calls Step with each token the server sends back until Established
// reports true; the server does the same with inbound credentials:
//
//	cred, err := sspi.AcquireCredentials(ctx, "Negotiate", sspi.CredentialsOutbound,
//		&sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: pw})
//	c, err := sspi.NewClientContext(cred, "HTTP/web.example.com",
//		sspi.ISC_REQ_MUTUAL_AUTH|sspi.ISC_REQ_CONFIDENTIALITY)
//	out, err := c.Step(ctx, nil)  // first token; send it
//	for !c.Established() {
//		in := receive()
//		if out, err = c.Step(ctx, in); err != nil { ... }
//		send(out)                  // may be empty
//	}
//	sealed, err := c.Wrap([]byte("hello"))
//
// Errors are [*status.Error] values carrying the SSPI call, the package and
// the SECURITY_STATUS, so errors.Is(err, sspi.SEC_E_LOGON_DENIED) and
// errors.Is(err, context.Canceled) both work. [Context.StepBuffers] takes
// extra input buffers such as channel bindings
// ([secbuffer.ChannelBindings]).
//
// # The flat API
//
// The flat functions return a [status.Status] (SECURITY_STATUS) and
// nothing else, as Windows does; informational codes such as
// [SEC_I_CONTINUE_NEEDED] are not failures. Where Windows passes raw
// memory, Go passes a safe equivalent:
//
//   - [CredHandle] and [CtxtHandle] are two words resolved through a
//     table with a generation check: a freed, forged or foreign handle, or
//     a handle of the wrong kind, gives [SEC_E_INVALID_HANDLE], never
//     another caller's object and never a panic.
//   - Strings are *uint16 (NUL-terminated UTF-16) for W functions and *byte
//     (NUL-terminated UTF-8) for A functions: see [UTF16PtrFromString],
//     [BytePtrFromString] and back.
//   - A SecBufferDesc is a [*secbuffer.Desc] whose buffers hold slices: an
//     output buffer's capacity is cap(Data) and its result len(Data). With
//     [ISC_REQ_ALLOCATE_MEMORY] the package allocates the token.
//   - pAuthData is an any: [*SEC_WINNT_AUTH_IDENTITY_W], its A and EX forms,
//     [*AuthIdentity], or a package's own credential type (a keytab, a
//     certificate, a user store).
//   - QueryContextAttributes fills a pointer to the matching structure
//     ([*SecPkgContext_Sizes], [*SecPkgContext_NamesW], ...). Memory
//     returned is Go memory; [FreeContextBuffer] is a no-op kept for
//     ported code.
//
// A client's loop reads as in C:
//
//	var cred sspi.CredHandle
//	st := sspi.AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_OUTBOUND, nil, id, 0, 0, &cred, nil)
//	var ctx sspi.CtxtHandle
//	out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}}
//	st = sspi.InitializeSecurityContextW(&cred, nil, target, req, 0, sspi.SECURITY_NATIVE_DREP, nil, 0, &ctx, out, &attr, nil)
//	// SEC_I_CONTINUE_NEEDED: send out.Buffers[0].Data, read the reply,
//	// call again with &ctx as phContext and the reply as a TOKEN input.
//
// ImpersonateSecurityContext, RevertSecurityContext and
// QuerySecurityContextToken have no meaning outside Windows and return
// [SEC_E_UNSUPPORTED_FUNCTION] for a valid context.
//
// # Delegation
//
// A client that asks for [ISC_REQ_DELEGATE] with a forwardable Kerberos
// TGT sends a forwarded TGT to the server, whose context then reports
// [ASC_RET_DELEGATE]. Where a Windows server would impersonate the client
// and acquire default credentials, a server here calls
// [Context.DelegatedCredentials] (Kerberos, or Negotiate over Kerberos):
// outbound credentials, a copy it owns, to reach another service as the
// client with [NewClientContext], to pass to [AcquireCredentials] as auth
// data for Negotiate credentials, or to write with
// [Credentials.WriteCCache] as an MIT credential cache for a child
// process (KRB5CCNAME):
//
//	dc, err := serverCtx.DelegatedCredentials() // SEC_E_NO_CREDENTIALS: nothing delegated
//	defer dc.Free()
//	c2, err := sspi.NewClientContext(dc, "HTTP/backend.example.com", sspi.ISC_REQ_MUTUAL_AUTH)
//
// The flat API does it as a Windows service with the TCB privilege does,
// through the client's logon session: [QueryContextLogonID] gives its
// LUID, and AcquireCredentialsHandle with that LUID as pvLogonId gives
// the delegated credentials.
//
// # Packages and registries
//
// A [Registry] holds security packages and the handle tables. The
// package-level functions use the default registry ([DefaultRegistry]),
// which holds the built-in packages in Windows' enumeration order, so
// acquiring "Negotiate" needs no blank import. Other packages implement
// [packages.Package] and are added with [RegisterPackage], or to a private
// Registry from [NewRegistry] whose methods carry the same flat and Go
// API. Package names compare case-insensitively.
//
// # Concurrency
//
// [*Credentials], [*Context] and [*Registry] are safe for concurrent use.
// The handshake of one context is serialised; after it, one goroutine may
// send (MakeSignature, EncryptMessage, Wrap) while another receives
// (VerifySignature, DecryptMessage, Unwrap). The flat calls may be made
// from any goroutine; two calls on one context are serialised the same
// way. The asynchronous family (SspiInitializeSecurityContextAsyncW and
// friends) runs the synchronous calls on an engine of its own.
//
// # Layers and ownership
//
// Imports point down only: [status] → [secbuffer] → [packages] (the
// provider contract) → the providers under packages/ (ntlm, kerberos,
// negotiate, digest, schannel) → this package → the adapters (sspihttp,
// sasl) → cmd/sspi. Providers never import this package; the root holds
// the Windows-shaped surface, not protocol detail.
//
// Each key, lock and error has one owner:
//
//   - A security context has two halves, as crypto/tls separates the
//     handshake from the record layer. The handshake
//     ([packages.Context]) is a single-threaded state machine, one Step
//     per token; when it completes it hands over a session
//     ([packages.Session]) that signs, verifies, seals and unseals,
//     knows its own Wrap/Unwrap layout, owns copies of its keys and
//     sequence numbers, and zeroes them on its Delete. The handshake
//     then drops what only it needed (a Kerberos ticket's session key, an
//     NTLM hash); its Delete never reaches into the session it handed
//     over.
//   - A [*Context] owns both halves and the locks: one for the handshake
//     (Step, the attribute and control calls), then one per direction
//     (send: MakeSignature, EncryptMessage, Wrap; receive:
//     VerifySignature, DecryptMessage, Unwrap). Message calls go to the
//     session only, so no message call can run before the handshake has
//     produced its keys: until then, or after Delete, they give
//     [SEC_E_INVALID_HANDLE] from the root. Delete deletes both halves.
//   - The root dispatches by capability, never by package name: the
//     optional interfaces of [packages] ([packages.Wrapper] on a session
//     for the stream form of Wrap and Unwrap, [packages.Exporter], ...)
//     say what a package can do, and each package keeps its own message
//     layout.
//   - Credentials own their keys and zero them on Free; freeing
//     credentials while a context made from them is mid-handshake does
//     not break it.
//   - Kerberos talks to KDCs through a replaceable transport without
//     holding a lock across the network: concurrent requests for one
//     ticket share one exchange, and each caller waits only as long as
//     its own context.Context allows; Free ends every wait at once.
//   - One replay cache per process serves every Kerberos acceptor,
//     through "Kerberos" and "Negotiate" alike (kerberos.ReplayCache: in
//     memory by default, or a file shared by the processes of a host).
//   - The flat API calls the Go API: there is one implementation of each
//     operation, and both report the same status.
//   - Errors are [*status.Error] values made by the package that failed,
//     with the SSPI call named by the root; values that hold a secret
//     (an [AuthIdentity], Digest users, NTLM user lists) print it as
//     "<redacted>" with every fmt verb.
//
// # Specifications
//
// The Windows behaviour emulated here is that of the public SSPI
// documentation and headers (sspi.h); the packages follow [MS-NLMP] (NTLM),
// RFC 4120 and RFC 4121 with [MS-KILE] (Kerberos), RFC 4178 with [MS-SPNG]
// (Negotiate), RFC 7616 and RFC 2831 (Digest) and TLS 1.2/1.3 (Schannel).
//
// [MS-NLMP]: https://learn.microsoft.com/openspecs/windows_protocols/ms-nlmp
// [MS-KILE]: https://learn.microsoft.com/openspecs/windows_protocols/ms-kile
// [MS-SPNG]: https://learn.microsoft.com/openspecs/windows_protocols/ms-spng
package sspi

//go:generate go run ./internal/cmd/genexports -o zexports.go
