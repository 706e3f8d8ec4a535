package negotiate

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

type serverState int

const (
	serverStart     serverState = iota // nothing received
	serverSentInit2                    // NegTokenInit2 sent, NegTokenInit awaited
	serverWaitResp                     // NegTokenResp awaited
	serverDirect                       // a bare mechanism token came in
)

// serverContext is an acceptor (AcceptSecurityContext) context.
type serverContext struct {
	negContext
	state serverState
}

var _ packages.Context = (*serverContext)(nil)

func newServerContext(cred *credentials, req uint32) *serverContext {
	return &serverContext{
		negContext: negContext{cred: cred, req: req, allocate: req&packages.ASC_REQ_ALLOCATE_MEMORY != 0},
	}
}

// Step runs one AcceptSecurityContext leg (packages.md 3.5).
func (c *serverContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	if done, st, err := c.begin(out); done {
		return st, err
	}
	tok, extra := inputToken(in), extras(in)
	var r result
	var err error
	switch c.state {
	case serverStart:
		switch {
		case len(tok) == 0:
			r, err = c.sendInit2()
		default:
			switch classifyToken(tok) {
			case rawNTLM:
				r, err = c.startDirect(ctx, "NTLM", tok, extra)
			case rawKerberos:
				r, err = c.startDirect(ctx, "Kerberos", tok, extra)
			case rawSPNEGO:
				r, err = c.readInit(ctx, tok, extra)
			default:
				err = status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: the token is neither SPNEGO, NTLM nor Kerberos"))
			}
		}
	case serverSentInit2:
		r, err = c.readInit(ctx, tok, extra)
	case serverWaitResp:
		r, err = c.readResp(ctx, tok, extra)
	case serverDirect:
		r, err = c.stepDirect(ctx, tok, extra)
	}
	if err != nil {
		st, err := c.fail(err)
		// Tell the initiator: a reject (RFC 4178 4.2.2) carrying the
		// mechanism's error token, or that token alone for a bare
		// mechanism. The status is the failure all the same.
		b := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
		if c.direct {
			secbuffer.Set(b, c.errToken, c.allocate)
		} else if enc, e := (&negTokenResp{state: reject, responseToken: c.errToken}).marshal(); e == nil {
			secbuffer.Set(b, enc, c.allocate)
		}
		return st, err
	}
	return c.deliver(out, r)
}

// offered returns the server's mechanism for oid, or nil.
func (c *serverContext) offered(oid asn1.ObjectIdentifier) *mechCred {
	for i := range c.cred.mechs {
		for _, o := range c.cred.mechs[i].mech.oids {
			if o.Equal(oid) {
				return &c.cred.mechs[i]
			}
		}
	}
	return nil
}

func (c *serverContext) byName(name string) *mechCred {
	for i := range c.cred.mechs {
		if c.cred.mechs[i].mech.name == name {
			return &c.cred.mechs[i]
		}
	}
	return nil
}

// sendInit2 answers an empty first input with NegTokenInit2: the server's
// mechanisms and the negHints Windows sends (MS-SPNG 2.2.1, 3.2.5.2).
func (c *serverContext) sendInit2() (result, error) {
	var mechTypes []asn1.ObjectIdentifier
	for _, mc := range c.cred.mechs {
		mechTypes = append(mechTypes, mc.mech.oids...)
	}
	name := negHintName
	enc, err := (&negTokenInit{mechTypes: mechTypes, negHints: &negHints{hintName: &name}}).marshal()
	if err != nil {
		return result{}, err
	}
	c.state = serverSentInit2
	return result{token: enc, st: status.SEC_I_CONTINUE_NEEDED}, nil
}

// startDirect runs a mechanism on a bare token given to Negotiate, as
// Windows does: the outputs are bare mechanism tokens too.
func (c *serverContext) startDirect(ctx context.Context, name string, tok []byte, extra []secbuffer.Buffer) (result, error) {
	mc := c.byName(name)
	if mc == nil {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, fmt.Errorf("negotiate: a bare %s token, and %s is not offered", name, name))
	}
	inner, err := mc.cred.NewServerContext(c.innerReq())
	if err != nil {
		return result{}, err
	}
	c.mech, c.inner, c.direct, c.state = mc.mech, inner, true, serverDirect
	return c.stepDirect(ctx, tok, extra)
}

func (c *serverContext) stepDirect(ctx context.Context, tok []byte, extra []secbuffer.Buffer) (result, error) {
	out, err := c.stepInner(ctx, c.inner, tok, extra)
	if err != nil {
		return result{}, err
	}
	if c.innerSession() != nil {
		return result{token: out, st: status.SEC_E_OK, done: true}, nil
	}
	return result{token: out, st: status.SEC_I_CONTINUE_NEEDED}, nil
}

// readInit processes the initiator's NegTokenInit: it selects the first
// mechanism of the initiator's list that the server offers, and runs the
// optimistic token if it belongs to that mechanism.
func (c *serverContext) readInit(ctx context.Context, tok []byte, extra []secbuffer.Buffer) (result, error) {
	init, err := parseNegTokenInit(tok)
	if err != nil {
		return result{}, err
	}
	var sel *mechCred
	var selOID asn1.ObjectIdentifier
	idx := -1
	for i, oid := range init.mechTypes {
		if mc := c.offered(oid); mc != nil {
			sel, selOID, idx = mc, oid, i
			break
		}
	}
	if sel == nil {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: no mechanism in common with the client"))
	}
	inner, err := sel.cred.NewServerContext(c.innerReq())
	if err != nil {
		return result{}, err
	}
	c.mech, c.inner, c.mechTypesDER = sel.mech, inner, init.rawMechTypes
	// RFC 4178 5: the MIC is mandatory when the initiator's first choice
	// (and so its optimistic token) was not taken.
	c.micRequired = idx != 0 || c.req&packages.ASC_REQ_USE_DCE_STYLE != 0
	c.state = serverWaitResp
	resp := &negTokenResp{supportedMech: selOID, state: acceptIncomplete}
	if c.micRequired {
		resp.state = requestMIC
	}
	if idx != 0 || len(init.mechToken) == 0 {
		return respond(resp, false)
	}
	out, err := c.stepInner(ctx, c.inner, init.mechToken, extra)
	if err != nil {
		return result{}, err
	}
	return c.afterToken(resp, out, init.mechListMIC)
}

// readResp processes a later NegTokenResp of the initiator.
func (c *serverContext) readResp(ctx context.Context, tok []byte, extra []secbuffer.Buffer) (result, error) {
	m, err := parseNegTokenResp(tok)
	if err != nil {
		return result{}, err
	}
	if m.state == reject {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_LOGON_DENIED, errors.New("negotiate: the client rejected the negotiation"))
	}
	mic := m.mechListMIC
	if mic != nil && bytes.Equal(mic, m.responseToken) {
		// Old initiators put the mechanism token in the MIC field too;
		// such a "MIC" is ignored (packages.md 3.4).
		mic = nil
	}
	var out []byte
	if len(m.responseToken) > 0 {
		if c.innerSession() != nil {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: mechanism token after the mechanism completed"))
		}
		if out, err = c.stepInner(ctx, c.inner, m.responseToken, extra); err != nil {
			return result{}, err
		}
	} else if c.innerSession() == nil {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, fmt.Errorf("negotiate: no %s token", c.mech.name))
	}
	return c.afterToken(&negTokenResp{state: acceptIncomplete}, out, mic)
}

// afterToken builds the acceptor's reply once the mechanism has consumed a
// token and produced out: accept-incomplete while the mechanism runs, then
// the mechListMIC exchange (packages.md 3.4), then accept-completed.
func (c *serverContext) afterToken(resp *negTokenResp, out, mic []byte) (result, error) {
	if len(out) > 0 {
		resp.responseToken = out
	}
	if c.innerSession() == nil {
		if mic != nil {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: mechListMIC before the mechanism completed"))
		}
		return respond(resp, false)
	}
	c.settleMICRule()
	if !c.mechIntegrity() {
		mic = nil // RFC 4178 5: no mechListMIC without integrity
	}
	sentBefore := c.micSent
	if mic != nil {
		if c.micReceived {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: a second mechListMIC"))
		}
		if err := c.verifyMIC(mic); err != nil {
			return result{}, err
		}
		if sentBefore && len(out) == 0 {
			// Our MIC went first; the initiator's answer ends the
			// negotiation and the initiator expects nothing more (it
			// completed when it sent its MIC). MIT krb5 does the same.
			return result{st: status.SEC_E_OK, done: true}, nil
		}
	}
	if c.micRequired && !c.micReceived {
		if len(out) == 0 {
			// The initiator's mechanism is complete too and it should
			// have sent its MIC with its last token.
			return result{}, status.New(c.op(), pkgName, status.SEC_E_MESSAGE_ALTERED, errors.New("negotiate: the client did not send the required mechListMIC"))
		}
		// The initiator still needs our token: send ours, wait for its.
		if !c.micSent {
			m, err := c.signMIC()
			if err != nil {
				return result{}, err
			}
			resp.mechListMIC = m
		}
		resp.state = acceptIncomplete
		return respond(resp, false)
	}
	if c.micReceived && !c.micSent {
		m, err := c.signMIC()
		if err != nil {
			return result{}, err
		}
		resp.mechListMIC = m
	}
	resp.state = acceptCompleted
	return respond(resp, true)
}

// respond encodes the acceptor's NegTokenResp.
func respond(m *negTokenResp, done bool) (result, error) {
	enc, err := m.marshal()
	if err != nil {
		return result{}, err
	}
	if done {
		return result{token: enc, st: status.SEC_E_OK, done: true}, nil
	}
	return result{token: enc, st: status.SEC_I_CONTINUE_NEEDED}, nil
}
