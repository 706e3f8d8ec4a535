package main

import (
	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

// asyncHandshaker makes the handshake calls through the async family: each
// call is queued with SspiInitializeSecurityContextAsyncW or
// SspiAcceptSecurityContextAsync on the engine, and its status read with
// SspiGetAsyncCallStatus once it completes. The client side blocks on the
// async context's Done channel; the server side is woken by its notify
// callback, the two Windows ways of learning that a call finished.
type asyncHandshaker struct {
	client, server *sspi.SspiAsyncContext
	serverDone     chan struct{} // signalled by the server's notify callback
}

func newAsyncHandshaker() *asyncHandshaker {
	h := &asyncHandshaker{
		client:     sspi.SspiCreateAsyncContext(),
		server:     sspi.SspiCreateAsyncContext(),
		serverDone: make(chan struct{}, 1),
	}
	sspi.SspiSetAsyncNotifyCallback(h.server, func(_ *sspi.SspiAsyncContext, data any) {
		data.(chan struct{}) <- struct{}{}
	}, h.serverDone)
	return h
}

// free releases both async contexts.
func (h *asyncHandshaker) free() {
	sspi.SspiFreeAsyncContext(h.client)
	sspi.SspiFreeAsyncContext(h.server)
}

func (h *asyncHandshaker) initialize(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, target *uint16, req uint32, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS {
	sspi.SspiReinitAsyncContext(h.client)
	if st := sspi.SspiInitializeSecurityContextAsyncW(h.client, cred, ctx, target, req, 0, sspi.SECURITY_NATIVE_DREP, in, 0, newCtx, out, attr, nil); st != sspi.SEC_E_OK {
		return st
	}
	<-h.client.Done()
	return sspi.SspiGetAsyncCallStatus(h.client)
}

func (h *asyncHandshaker) accept(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, req uint32, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32) sspi.SECURITY_STATUS {
	sspi.SspiReinitAsyncContext(h.server)
	if st := sspi.SspiAcceptSecurityContextAsync(h.server, cred, ctx, in, req, sspi.SECURITY_NATIVE_DREP, newCtx, out, attr, nil); st != sspi.SEC_E_OK {
		return st
	}
	<-h.serverDone
	return sspi.SspiGetAsyncCallStatus(h.server)
}
