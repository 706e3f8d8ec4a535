//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package sspi

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gosspi/sspi/internal/async"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// SspiAsyncContext is an SspiAsyncContext: it tracks one asynchronous call
// at a time and its completion status. Create one with
// [SspiCreateAsyncContext], issue calls with the SspiXxxAsync functions,
// read the result with [SspiGetAsyncCallStatus] (after waiting on
// [SspiAsyncContext.Done], with [SspiAsyncContext.Wait] or in the callback
// of [SspiSetAsyncNotifyCallback]), reuse it after [SspiReinitAsyncContext]
// and release it with [SspiFreeAsyncContext]. It is safe for concurrent
// use.
//
// On Windows the asynchronous family exists only in kernel mode; here it
// is an ordinary Go API of the same shape, built on the synchronous calls:
// each SspiXxxAsync function takes an *SspiAsyncContext followed by exactly
// the parameters of its synchronous counterpart, queues that synchronous
// call and returns at once. The caller must keep every handle, buffer and
// pointer it passed alive and untouched until the call completes, as on
// Windows, where these parameters are annotated _In_ because they are
// written at completion. The engine that runs the calls guarantees:
//
//   - A call starts as soon as it may run: a goroutine is started for it
//     at once (unless [SspiAsyncContext.Wait] gets there first and runs
//     it on the waiting goroutine); nobody has to wait for it or ask about
//     it first.
//   - Calls on one security context (the same *phContext, or the same
//     *phCredential for SspiFreeCredentialsHandleAsync) run one at a time in
//     the order they were issued; calls on different contexts run in
//     parallel.
//   - At most [AsyncLimits].CPU calls compute at once and at most
//     [AsyncLimits].Network calls wait on a KDC at once (see
//     [SetAsyncLimits]), so a slow KDC cannot starve local handshakes.
//   - A call that cannot run yet is an entry in a queue, not a goroutine;
//     nothing polls, and with no call running the engine has no
//     goroutines.
//
// internal/async holds the engine; its package doc describes the design.
type SspiAsyncContext struct {
	op async.Op
}

// SspiAsyncNotifyCallback is an SspiAsyncNotifyCallback: called once when a
// call issued on Handle completes, with the CallbackData registered by
// [SspiSetAsyncNotifyCallback]. It runs on an engine goroutine (the one
// that ran the call, never the caller's), after every output parameter has
// been written and the status has become final. It may call [SspiGetAsyncCallStatus], reuse Handle for the
// next call, or free it. A panic in the callback is recovered and
// discarded; the engine carries on.
type SspiAsyncNotifyCallback func(Handle *SspiAsyncContext, CallbackData any)

// NTSTATUS is an NT status code, the return type of
// [SspiReinitAsyncContext] (the one function of the family that does not
// return a SECURITY_STATUS). Values with the top bit set are failures.
type NTSTATUS uint32

// NTSTATUS values returned by [SspiReinitAsyncContext]. Windows documents
// only STATUS_SUCCESS; the two failures are this emulation's choice.
const (
	STATUS_SUCCESS NTSTATUS = 0x00000000
	// The async context is nil or freed.
	STATUS_INVALID_HANDLE NTSTATUS = 0xC0000008
	// A call is still pending on the async context.
	STATUS_INVALID_DEVICE_STATE NTSTATUS = 0xC0000184
)

// Succeeded reports whether s is a success (the NT_SUCCESS macro).
func (s NTSTATUS) Succeeded() bool { return int32(s) >= 0 }

// String returns the name of s, or its hex value if it is not one of the
// values above.
func (s NTSTATUS) String() string {
	switch s {
	case STATUS_SUCCESS:
		return "STATUS_SUCCESS"
	case STATUS_INVALID_HANDLE:
		return "STATUS_INVALID_HANDLE"
	case STATUS_INVALID_DEVICE_STATE:
		return "STATUS_INVALID_DEVICE_STATE"
	}
	return fmt.Sprintf("NTSTATUS(0x%08X)", uint32(s))
}

// AsyncLimits bounds the work the async engine runs at once.
type AsyncLimits struct {
	// CPU is the number of calls that may compute at once. Zero or less
	// means runtime.GOMAXPROCS(0) when the limits are set.
	CPU int
	// Network is the number of calls that may wait on the network (a KDC)
	// at once, on top of CPU. Zero or less means 64.
	Network int
}

// defaultEngine is the engine shared by every Registry.
var defaultEngine = sync.OnceValue(func() *async.Engine {
	return async.New(async.Limits{}, nil)
})

// testEngine, when a test sets it (UseOwnAsyncEngine, in
// export_async_test.go), replaces defaultEngine.
var testEngine atomic.Pointer[async.Engine]

// asyncEngine returns the engine that runs the SspiXxxAsync calls.
func asyncEngine() *async.Engine {
	if e := testEngine.Load(); e != nil {
		return e
	}
	return defaultEngine()
}

// SetAsyncLimits sets the limits of the engine that runs the SspiXxxAsync
// calls of every Registry. Raising a limit starts waiting calls at once;
// lowering one lets running calls finish. It is safe for concurrent use.
//
// Every call counts against CPU while it computes. A package that waits on
// the network says so while it waits (Kerberos does, around each KDC
// exchange, through packages.NetworkBound on the context its call
// receives): for that time the call gives its CPU slot back and holds a
// Network slot instead. No call is classified by its package's name.
func SetAsyncLimits(limits AsyncLimits) {
	asyncEngine().SetLimits(async.Limits{CPU: limits.CPU, Network: limits.Network})
}

// GetAsyncLimits returns the limits in force, with defaults applied.
func GetAsyncLimits() AsyncLimits {
	l := asyncEngine().Limits()
	return AsyncLimits{CPU: l.CPU, Network: l.Network}
}

// SspiCreateAsyncContext returns a new, idle async context
// (SspiCreateAsyncContext). Until a call is issued, [SspiGetAsyncCallStatus]
// returns SEC_E_OK for it and its Done channel is closed.
func SspiCreateAsyncContext() *SspiAsyncContext {
	return new(SspiAsyncContext)
}

// SspiFreeAsyncContext frees Handle (SspiFreeAsyncContext); nil is
// allowed, and freeing twice does nothing. A pending call is cancelled: one
// still queued never runs; one already running has its context cancelled,
// so that a package waiting on the network (Kerberos asking its KDC for a
// ticket) gives up at once, and is waited for. The callback of a cancelled
// call does not run: Windows leaves freeing a context with a call pending
// undefined, and this emulation never lets a callback see a freed context.
// When SspiFreeAsyncContext returns, nothing writes to that call's output
// parameters any more and the goroutine that ran it has let go of it. A
// call that gave up writes no output; a first handshake call then creates
// no context, a later one leaves its context failed (delete it as usual).
// A call freed while running may also have completed its work just before:
// check the handle it was to create (for example *phNewContext) and
// release it. Later use of Handle gives SEC_E_INVALID_HANDLE.
//
// A callback that has already started when Handle is freed (for instance
// the callback freeing its own context) runs to its end.
func SspiFreeAsyncContext(Handle *SspiAsyncContext) {
	if Handle == nil {
		return
	}
	Handle.op.Free()
}

// SspiReinitAsyncContext makes a completed async context ready for its
// next call (SspiReinitAsyncContext): the status goes back to SEC_E_OK and
// the registered callback stays. It returns STATUS_SUCCESS,
// STATUS_INVALID_DEVICE_STATE while a call is pending, or
// STATUS_INVALID_HANDLE for a nil or freed context.
//
// Windows requires it between two calls on the same async context; this
// emulation also accepts a new call on a completed context without it.
func SspiReinitAsyncContext(Handle *SspiAsyncContext) NTSTATUS {
	if Handle == nil {
		return STATUS_INVALID_HANDLE
	}
	switch Handle.op.Reinit() {
	case nil:
		return STATUS_SUCCESS
	case async.ErrPending:
		return STATUS_INVALID_DEVICE_STATE
	}
	return STATUS_INVALID_HANDLE
}

// SspiSetAsyncNotifyCallback registers Callback, with CallbackData, to be
// called when each later call on Context completes
// (SspiSetAsyncNotifyCallback). A nil Callback removes the registration.
// It returns SEC_E_OK, or SEC_E_INVALID_HANDLE for a nil or freed context.
// A callback registered while a call is pending applies to that call.
func SspiSetAsyncNotifyCallback(Context *SspiAsyncContext, Callback SspiAsyncNotifyCallback, CallbackData any) status.Status {
	if Context == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	var fn func()
	if Callback != nil {
		fn = func() { Callback(Context, CallbackData) }
	}
	if Context.op.SetNotify(fn) != nil {
		return status.SEC_E_INVALID_HANDLE
	}
	return status.SEC_E_OK
}

// SspiAsyncContextRequiresNotify reports whether completion of calls on
// AsyncContext is signalled through a callback
// (SspiAsyncContextRequiresNotify): true iff one is registered. It is
// false for a nil or freed context.
func SspiAsyncContextRequiresNotify(AsyncContext *SspiAsyncContext) bool {
	return AsyncContext != nil && AsyncContext.op.HasNotify()
}

// SspiGetAsyncCallStatus returns SEC_I_ASYNC_CALL_PENDING while the call
// issued on Handle is queued or running, then exactly the status its
// synchronous counterpart returned (SspiGetAsyncCallStatus). Before any
// call and after [SspiReinitAsyncContext] it returns SEC_E_OK; for a nil or
// freed context, SEC_E_INVALID_HANDLE. A call that panics (a bug in a
// package) completes with SEC_E_INTERNAL_ERROR. A caller that polls should
// block on [SspiAsyncContext.Done] between checks.
func SspiGetAsyncCallStatus(Handle *SspiAsyncContext) status.Status {
	if Handle == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	return Handle.op.Status()
}

// Done returns a channel that is closed when the pending call completes,
// after its outputs are written and its status is final: the Go form of
// waiting for the notify callback. Each call's channel is closed exactly
// once. With no call pending it returns a closed channel.
func (h *SspiAsyncContext) Done() <-chan struct{} {
	if h == nil {
		return (*async.Op)(nil).Done() // a closed channel
	}
	return h.op.Done()
}

// Wait blocks until the pending call completes and returns its status, as
// [SspiGetAsyncCallStatus] then does. If ctx ends first it returns
// SEC_I_ASYNC_CALL_PENDING; the call goes on (free the async context to
// cancel it). With a ctx that never ends, such as context.Background(), and
// no callback registered, a call that may run but that no engine goroutine
// has begun yet runs on the goroutine calling Wait, which would only block
// for as long; ordering, limits and results are as on an engine goroutine.
func (h *SspiAsyncContext) Wait(ctx context.Context) status.Status {
	if h == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	return h.op.Wait(ctx)
}

// issue queues call on h. key orders it with the other calls on the same
// security context (nil: a call that creates one). It returns SEC_E_OK
// once queued, or SEC_E_INVALID_HANDLE when h is nil, freed or has a call
// pending (the Windows code for these cases is not documented).
func issue(h *SspiAsyncContext, key any, call func(ctx context.Context) status.Status) status.Status {
	if h == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	if err := h.op.Start(context.Background(), asyncEngine(), key, async.CPU, call); err != nil {
		return status.SEC_E_INVALID_HANDLE
	}
	return status.SEC_E_OK
}

// SspiAcquireCredentialsHandleAsyncW is
// [Registry.SspiAcquireCredentialsHandleAsyncW] on the default Registry.
func SspiAcquireCredentialsHandleAsyncW(AsyncContext *SspiAsyncContext, pszPrincipal *uint16, pszPackage *uint16, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().SspiAcquireCredentialsHandleAsyncW(AsyncContext, pszPrincipal, pszPackage, fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// SspiAcquireCredentialsHandleAsyncA is
// [Registry.SspiAcquireCredentialsHandleAsyncA] on the default Registry.
func SspiAcquireCredentialsHandleAsyncA(AsyncContext *SspiAsyncContext, pszPrincipal *byte, pszPackage *byte, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().SspiAcquireCredentialsHandleAsyncA(AsyncContext, pszPrincipal, pszPackage, fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// SspiAcquireCredentialsHandleAsyncW queues
// [Registry.AcquireCredentialsHandleW] with the same parameters on
// AsyncContext. It returns SEC_E_OK once queued, or SEC_E_INVALID_HANDLE
// (nothing queued) when AsyncContext is nil, freed or has a call pending.
// *phCredential and *ptsExpiry are written before the status turns final.
func (r *Registry) SspiAcquireCredentialsHandleAsyncW(AsyncContext *SspiAsyncContext, pszPrincipal *uint16, pszPackage *uint16, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return issue(AsyncContext, nil, func(ctx context.Context) status.Status {
		return r.acquireCredentialsHandle(ctx, UTF16PtrToString(pszPrincipal), pszPackage == nil, UTF16PtrToString(pszPackage), fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
	})
}

// SspiAcquireCredentialsHandleAsyncA is SspiAcquireCredentialsHandleAsyncW
// with 8-bit strings, queueing [Registry.AcquireCredentialsHandleA].
func (r *Registry) SspiAcquireCredentialsHandleAsyncA(AsyncContext *SspiAsyncContext, pszPrincipal *byte, pszPackage *byte, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return issue(AsyncContext, nil, func(ctx context.Context) status.Status {
		return r.acquireCredentialsHandle(ctx, BytePtrToString(pszPrincipal), pszPackage == nil, BytePtrToString(pszPackage), fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
	})
}

// SspiInitializeSecurityContextAsyncW is
// [Registry.SspiInitializeSecurityContextAsyncW] on the default Registry.
func SspiInitializeSecurityContextAsyncW(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *uint16, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().SspiInitializeSecurityContextAsyncW(AsyncContext, phCredential, phContext, pszTargetName, fContextReq, Reserved1, TargetDataRep, pInput, Reserved2, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// SspiInitializeSecurityContextAsyncA is
// [Registry.SspiInitializeSecurityContextAsyncA] on the default Registry.
func SspiInitializeSecurityContextAsyncA(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *byte, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().SspiInitializeSecurityContextAsyncA(AsyncContext, phCredential, phContext, pszTargetName, fContextReq, Reserved1, TargetDataRep, pInput, Reserved2, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// SspiInitializeSecurityContextAsyncW queues
// [Registry.InitializeSecurityContextW] with the same parameters on
// AsyncContext. It returns SEC_E_OK once queued, or, with nothing queued,
// SEC_E_INVALID_HANDLE when AsyncContext is nil, freed or has a call
// pending, when phContext is given but names no context, or when
// phContext is nil and phCredential names no credentials.
// [SspiGetAsyncCallStatus] then gives exactly what
// InitializeSecurityContextW returned; *phNewContext, the output buffers,
// *pfContextAttr and *ptsExpiry are written before that status turns
// final.
func (r *Registry) SspiInitializeSecurityContextAsyncW(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *uint16, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return r.issueHandshake(AsyncContext, true, UTF16PtrToString(pszTargetName), Reserved1 != 0 || Reserved2 != 0,
		phCredential, phContext, fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// SspiInitializeSecurityContextAsyncA is SspiInitializeSecurityContextAsyncW
// with an 8-bit target name, queueing [Registry.InitializeSecurityContextA].
func (r *Registry) SspiInitializeSecurityContextAsyncA(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *byte, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return r.issueHandshake(AsyncContext, true, BytePtrToString(pszTargetName), Reserved1 != 0 || Reserved2 != 0,
		phCredential, phContext, fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// SspiAcceptSecurityContextAsync is
// [Registry.SspiAcceptSecurityContextAsync] on the default Registry.
func SspiAcceptSecurityContextAsync(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pInput *secbuffer.Desc, fContextReq uint32, TargetDataRep uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().SspiAcceptSecurityContextAsync(AsyncContext, phCredential, phContext, pInput, fContextReq, TargetDataRep, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// SspiAcceptSecurityContextAsync queues [Registry.AcceptSecurityContext]
// with the same parameters on AsyncContext. Queueing failures and outputs
// are as for [Registry.SspiInitializeSecurityContextAsyncW]. Accepting
// needs no KDC, so these calls always count against the CPU limit.
func (r *Registry) SspiAcceptSecurityContextAsync(AsyncContext *SspiAsyncContext, phCredential *CredHandle, phContext *CtxtHandle, pInput *secbuffer.Desc, fContextReq uint32, TargetDataRep uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return r.issueHandshake(AsyncContext, false, "", false,
		phCredential, phContext, fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// issueHandshake checks the handles of a handshake call as the
// synchronous call will (the context if given, otherwise the credentials)
// and queues the call on h, ordered behind the calls on the context it
// continues (a first call, which creates one, has no order to keep).
func (r *Registry) issueHandshake(h *SspiAsyncContext, client bool, target string, reserved bool,
	phCredential *CredHandle, phContext *CtxtHandle, fContextReq uint32, pInput *secbuffer.Desc,
	phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	var key any
	if phContext != nil {
		c, err := r.Context(phContext)
		if err != nil {
			return status.Code(err)
		}
		key = &c.asyncKey
	} else if _, err := r.Credentials(phCredential); err != nil {
		return status.Code(err)
	}
	return issue(h, key, func(ctx context.Context) status.Status {
		if reserved {
			return status.SEC_E_INVALID_PARAMETER
		}
		return r.handshake(ctx, client, phCredential, phContext, target, fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
	})
}

// SspiFreeCredentialsHandleAsync is
// [Registry.SspiFreeCredentialsHandleAsync] on the default Registry.
func SspiFreeCredentialsHandleAsync(AsyncContext *SspiAsyncContext, phCredential *CredHandle) status.Status {
	return defaultRegistry().SspiFreeCredentialsHandleAsync(AsyncContext, phCredential)
}

// SspiFreeCredentialsHandleAsync queues [Registry.FreeCredentialsHandle] on
// AsyncContext. It returns SEC_E_OK once queued, or SEC_E_INVALID_HANDLE
// (nothing queued) when AsyncContext is nil, freed or busy, or when
// phCredential names no credentials. Calls that create contexts from the
// credentials are not ordered with it: issue it once they have completed.
func (r *Registry) SspiFreeCredentialsHandleAsync(AsyncContext *SspiAsyncContext, phCredential *CredHandle) status.Status {
	cred, err := r.Credentials(phCredential)
	if err != nil {
		return status.Code(err)
	}
	return issue(AsyncContext, &cred.asyncKey, func(context.Context) status.Status {
		return r.FreeCredentialsHandle(phCredential)
	})
}

// SspiDeleteSecurityContextAsync is
// [Registry.SspiDeleteSecurityContextAsync] on the default Registry.
func SspiDeleteSecurityContextAsync(AsyncContext *SspiAsyncContext, phContext *CtxtHandle) status.Status {
	return defaultRegistry().SspiDeleteSecurityContextAsync(AsyncContext, phContext)
}

// SspiDeleteSecurityContextAsync queues [Registry.DeleteSecurityContext] on
// AsyncContext, after the calls already issued on the same context. It
// returns SEC_E_OK once queued, or SEC_E_INVALID_HANDLE (nothing queued)
// when AsyncContext is nil, freed or busy, or when phContext names no
// context.
func (r *Registry) SspiDeleteSecurityContextAsync(AsyncContext *SspiAsyncContext, phContext *CtxtHandle) status.Status {
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	return issue(AsyncContext, &c.asyncKey, func(context.Context) status.Status {
		return r.DeleteSecurityContext(phContext)
	})
}
