package sspi_test

import (
	"fmt"
	"log"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// The Windows asynchronous flow, end to end, with NTLM: client and server
// each run the whole handshake through SspiInitializeSecurityContextAsyncW
// and SspiAcceptSecurityContextAsync. The client polls
// SspiGetAsyncCallStatus, blocking on Done between checks; the server is
// woken by its notify callback. Tokens travel over channels standing in
// for the network.
func ExampleSspiAsyncContext() {
	toServer, toClient := make(chan []byte, 1), make(chan []byte, 1)
	serverDone := make(chan struct{}) // the client deletes its context last
	var wg sync.WaitGroup
	wg.Add(2)

	var mu sync.Mutex // keeps the two sides' lines whole
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}

	// The client: polls.
	go func() {
		defer wg.Done()
		async := sspi.SspiCreateAsyncContext()
		defer sspi.SspiFreeAsyncContext(async)

		pkg, _ := sspi.UTF16PtrFromString("NTLM")
		target, _ := sspi.UTF16PtrFromString("HTTP/web.example.com")
		var cred sspi.CredHandle
		identity := &sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"}
		if st := sspi.SspiAcquireCredentialsHandleAsyncW(async, nil, pkg, sspi.SECPKG_CRED_OUTBOUND, nil, identity, 0, 0, &cred, nil); st != sspi.SEC_E_OK {
			log.Fatal(st)
		}
		st := pollStatus(async)
		say("client: credentials %v", st.String())

		var ctxt sspi.CtxtHandle
		var attr uint32
		var input *secbuffer.Desc
		for leg := 0; ; leg++ {
			sspi.SspiReinitAsyncContext(async)
			output := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}}
			phContext := &ctxt
			if leg == 0 {
				phContext = nil
			}
			if st := sspi.SspiInitializeSecurityContextAsyncW(async, &cred, phContext, target,
				sspi.ISC_REQ_ALLOCATE_MEMORY|sspi.ISC_REQ_CONNECTION|sspi.ISC_REQ_INTEGRITY, 0, sspi.SECURITY_NATIVE_DREP,
				input, 0, &ctxt, output, &attr, nil); st != sspi.SEC_E_OK {
				log.Fatal(st)
			}
			st := pollStatus(async)
			say("client: InitializeSecurityContext %v", st.String())
			if st.Failed() {
				log.Fatal(st)
			}
			if token := output.Buffers[0].Data; len(token) > 0 {
				toServer <- token
			}
			if st == sspi.SEC_E_OK {
				break
			}
			input = &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: <-toClient}}}
		}

		<-serverDone
		sspi.SspiReinitAsyncContext(async)
		sspi.SspiDeleteSecurityContextAsync(async, &ctxt)
		say("client: DeleteSecurityContext %v", pollStatus(async).String())
		sspi.FreeCredentialsHandle(&cred)
	}()

	// The server: woken by its notify callback.
	go func() {
		defer wg.Done()
		async := sspi.SspiCreateAsyncContext()
		defer sspi.SspiFreeAsyncContext(async)
		wake := make(chan struct{}, 1)
		sspi.SspiSetAsyncNotifyCallback(async, func(_ *sspi.SspiAsyncContext, data any) {
			data.(chan struct{}) <- struct{}{}
		}, wake)

		pkg, _ := sspi.UTF16PtrFromString("NTLM")
		var cred sspi.CredHandle
		users := ntlm.Users{`EXAMPLE\alice`: "Secret1!"}
		if st := sspi.SspiAcquireCredentialsHandleAsyncW(async, nil, pkg, sspi.SECPKG_CRED_INBOUND, nil, users, 0, 0, &cred, nil); st != sspi.SEC_E_OK {
			log.Fatal(st)
		}
		<-wake

		var ctxt sspi.CtxtHandle
		var attr uint32
		for leg := 0; ; leg++ {
			input := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: <-toServer}}}
			output := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}}
			phContext := &ctxt
			if leg == 0 {
				phContext = nil
			}
			sspi.SspiReinitAsyncContext(async)
			if st := sspi.SspiAcceptSecurityContextAsync(async, &cred, phContext, input,
				sspi.ASC_REQ_ALLOCATE_MEMORY|sspi.ASC_REQ_CONNECTION|sspi.ASC_REQ_INTEGRITY, sspi.SECURITY_NATIVE_DREP,
				&ctxt, output, &attr, nil); st != sspi.SEC_E_OK {
				log.Fatal(st)
			}
			<-wake
			st := sspi.SspiGetAsyncCallStatus(async)
			say("server: AcceptSecurityContext %v", st.String())
			if st.Failed() {
				log.Fatal(st)
			}
			if token := output.Buffers[0].Data; len(token) > 0 {
				toClient <- token
			}
			if st == sspi.SEC_E_OK {
				break
			}
		}

		var names sspi.SecPkgContext_NamesW
		if st := sspi.QueryContextAttributesW(&ctxt, sspi.SECPKG_ATTR_NAMES, &names); st != sspi.SEC_E_OK {
			log.Fatal(st)
		}
		say("server: authenticated %s", sspi.UTF16PtrToString(names.UserName))

		sspi.SspiReinitAsyncContext(async)
		sspi.SspiDeleteSecurityContextAsync(async, &ctxt)
		<-wake
		say("server: DeleteSecurityContext %v", sspi.SspiGetAsyncCallStatus(async).String())
		sspi.FreeCredentialsHandle(&cred)
		close(serverDone)
	}()

	wg.Wait()
	// Output:
	// client: credentials SEC_E_OK
	// client: InitializeSecurityContext SEC_I_CONTINUE_NEEDED
	// server: AcceptSecurityContext SEC_I_CONTINUE_NEEDED
	// client: InitializeSecurityContext SEC_E_OK
	// server: AcceptSecurityContext SEC_E_OK
	// server: authenticated EXAMPLE\alice
	// server: DeleteSecurityContext SEC_E_OK
	// client: DeleteSecurityContext SEC_E_OK
}

// pollStatus polls SspiGetAsyncCallStatus until the call is no longer
// pending, blocking on Done between checks instead of sleeping.
func pollStatus(async *sspi.SspiAsyncContext) sspi.SECURITY_STATUS {
	for {
		st := sspi.SspiGetAsyncCallStatus(async)
		if st != sspi.SEC_I_ASYNC_CALL_PENDING {
			return st
		}
		<-async.Done()
	}
}
