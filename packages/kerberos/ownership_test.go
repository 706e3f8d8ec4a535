package kerberos

import (
	"context"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
)

func tokenOut() []secbuffer.Buffer {
	return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
}

// TestFreeCredentialsMidHandshake frees the client's credentials between
// the AP-REQ and the AP-REP: the context holds its own copy of the ticket
// session key, so the AP-REP still verifies, the messages still flow, and
// Delete zeroes the context's copies.
func TestFreeCredentialsMidHandshake(t *testing.T) {
	for _, tt := range []struct {
		name  string
		etype int32
		req   uint32
	}{
		{"aes256-mutual", 18, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT},
		{"aes256-dce", 18, packages.ISC_REQ_USE_DCE_STYLE | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT},
		{"rc4-mutual", 23, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemRealm(t, tt.etype, nil)
			cc, sc := m.contexts(t, tt.req)
			ctx := context.Background()
			out := tokenOut()
			if _, err := cc.Step(ctx, nil, out); err != nil {
				t.Fatal(err)
			}
			sout := tokenOut()
			if _, err := sc.Step(ctx, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}, sout); err != nil {
				t.Fatal(err)
			}
			var credKey []byte
			for _, tk := range m.client.tickets {
				credKey = tk.key.KeyValue
			}
			ctxKey := cc.(*clientContext).tkt.key.KeyValue
			m.client.Free()
			if !allZero(credKey) {
				t.Fatal("Free left the credentials' ticket session key")
			}
			out = tokenOut()
			if _, err := cc.Step(ctx, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sout[0].Data}}, out); err != nil {
				t.Fatalf("Step after Free of the credentials: %v", err)
			}
			if len(out[0].Data) > 0 {
				if _, err := sc.Step(ctx, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}, tokenOut()); err != nil {
					t.Fatal(err)
				}
			}
			if cc.Session() == nil || sc.Session() == nil {
				t.Fatal("not established")
			}
			if !allZero(ctxKey) {
				t.Error("the established context kept its copy of the ticket session key")
			}
			exchangeMessages(t, cc.(msgContext), sc.(msgContext))
			// The handshake handed its session over: the context's
			// Delete zeroes what the handshake kept, the session's
			// Delete the session's keys.
			cs, ss := cc.Session(), sc.Session()
			sessKey := cc.(*clientContext).sess.key.KeyValue
			cc.Delete()
			if allZero(sessKey) {
				t.Error("the context's Delete reached into the session it handed over")
			}
			cs.Delete()
			if !allZero(sessKey) {
				t.Error("the session's Delete left the session key")
			}
			tktKey, srvKey := sc.(*serverContext).tktKey.KeyValue, sc.(*serverContext).sess.key.KeyValue
			sc.Delete()
			if !allZero(tktKey) {
				t.Error("the acceptor's Delete left the ticket session key")
			}
			ss.Delete()
			if !allZero(srvKey) {
				t.Error("the acceptor session's Delete left the session key")
			}
		})
	}
}
