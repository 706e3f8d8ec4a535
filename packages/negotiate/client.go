package negotiate

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

type clientState int

const (
	clientStart    clientState = iota // nothing sent
	clientSentInit                    // NegTokenInit sent, first reply awaited
	clientWaitResp                    // later NegTokenResp awaited
)

// clientContext is an initiator (InitializeSecurityContext) context.
type clientContext struct {
	negContext
	target string
	state  clientState
	listed []mechCred // the mechanisms of the list sent, in order
}

var _ packages.Context = (*clientContext)(nil)

func newClientContext(cred *credentials, target string, req uint32) *clientContext {
	return &clientContext{
		negContext: negContext{cred: cred, client: true, req: req, allocate: req&packages.ISC_REQ_ALLOCATE_MEMORY != 0,
			// packages.md 3.4: DCE-style contexts always exchange the MIC.
			micRequired: req&packages.ISC_REQ_USE_DCE_STYLE != 0},
		target: target,
	}
}

// Step runs one InitializeSecurityContext leg (packages.md 3.3).
func (c *clientContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	if done, st, err := c.begin(out); done {
		return st, err
	}
	var r result
	var err error
	switch c.state {
	case clientStart:
		r, err = c.sendInit(ctx, c.hinted(inputToken(in)), extras(in))
	case clientSentInit, clientWaitResp:
		r, err = c.readResp(ctx, inputToken(in), extras(in))
	}
	if err != nil {
		return c.fail(err)
	}
	return c.deliver(out, r)
}

// startMech creates a context of mc and runs its first leg.
func (c *clientContext) startMech(ctx context.Context, mc mechCred, extra []secbuffer.Buffer) (packages.Context, []byte, error) {
	inner, err := mc.cred.NewClientContext(c.target, c.innerReq())
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.stepInner(ctx, inner, nil, extra)
	if err != nil {
		inner.Delete()
		return nil, nil, err
	}
	return inner, tok, nil
}

// sendInit builds the NegTokenInit: the mechanisms in order, with the
// first one's optimistic token. A mechanism that cannot start (Kerberos
// without a ticket, a KDC or a known SPN) is dropped from the list, as
// Windows does; when none can, the first failure is returned (with NTLM
// forbidden, Kerberos's).
func (c *clientContext) sendInit(ctx context.Context, mechs []mechCred, extra []secbuffer.Buffer) (result, error) {
	// Kerberos failures met before a later mechanism starts: those of
	// AcquireCredentials, then those of the first leg.
	var skipped []error
	for _, f := range c.cred.failed {
		if !f.mech.ntlm {
			skipped = append(skipped, fmt.Errorf("negotiate: %s: %w", f.mech.name, f.err))
		}
	}
	var tok []byte
	for i, mc := range mechs {
		if mc.mech.ntlm && len(skipped) > 0 && c.cred.pkg.refuseFallback {
			return result{}, skipped[0]
		}
		inner, t, err := c.startMech(ctx, mc, extra)
		if err != nil {
			if ctx.Err() != nil {
				return result{}, err
			}
			skipped = append(skipped, fmt.Errorf("negotiate: %s: %w", mc.mech.name, err))
			continue
		}
		c.mech, c.inner, c.listed, tok = mc.mech, inner, mechs[i:], t
		break
	}
	if c.inner == nil {
		if len(skipped) == 0 {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("negotiate: no mechanism to offer"))
		}
		return result{}, skipped[0]
	}
	if c.mech.ntlm && len(skipped) > 0 {
		// Windows falls back silently; here the fallback is visible:
		// in SECPKG_ATTR_NEGOTIATION_INFO and in a debug record.
		c.fallback = errors.Join(skipped...)
		c.cred.pkg.log().DebugContext(ctx, "negotiate: Kerberos not used, falling back to NTLM",
			"target", c.target, "reason", c.fallback.Error())
	}
	var mechTypes []asn1.ObjectIdentifier
	for _, mc := range c.listed {
		mechTypes = append(mechTypes, mc.mech.oids...)
	}
	der, err := marshalMechTypes(mechTypes)
	if err != nil {
		return result{}, err
	}
	c.mechTypesDER = der
	init := &negTokenInit{mechTypes: mechTypes}
	if len(tok) > 0 {
		init.mechToken = tok
	}
	enc, err := init.marshal()
	if err != nil {
		return result{}, err
	}
	c.state = clientSentInit
	return result{token: enc, st: status.SEC_I_CONTINUE_NEEDED}, nil
}

// hinted returns the mechanisms to try: those of the credentials, less
// the ones a server-first NegTokenInit2 (MS-SPNG 3.2.5.2) in the first
// input leaves out, when it leaves any in.
func (c *clientContext) hinted(in []byte) []mechCred {
	if len(in) == 0 {
		return c.cred.mechs
	}
	init, err := parseNegTokenInit(in)
	if err != nil {
		return c.cred.mechs
	}
	var out []mechCred
	for _, mc := range c.cred.mechs {
	next:
		for _, o := range mc.mech.oids {
			for _, s := range init.mechTypes {
				if o.Equal(s) {
					out = append(out, mc)
					break next
				}
			}
		}
	}
	if len(out) == 0 {
		return c.cred.mechs
	}
	return out
}

// listedMech returns the mechanism of the list sent that oid names, or nil.
func (c *clientContext) listedMech(oid asn1.ObjectIdentifier) *mechCred {
	for i := range c.listed {
		for _, o := range c.listed[i].mech.oids {
			if o.Equal(oid) {
				return &c.listed[i]
			}
		}
	}
	return nil
}

// readResp processes the acceptor's NegTokenResp (packages.md 3.3).
func (c *clientContext) readResp(ctx context.Context, in []byte, extra []secbuffer.Buffer) (result, error) {
	if len(in) == 0 {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: no input token"))
	}
	resp, err := parseNegTokenResp(in)
	if err != nil {
		return result{}, err
	}
	if resp.state == reject {
		// Let the mechanism report its own failure first (an error token).
		if len(resp.responseToken) > 0 && c.innerSession() == nil {
			if _, err := c.stepInner(ctx, c.inner, resp.responseToken, extra); err != nil {
				return result{}, err
			}
		}
		return result{}, status.New(c.op(), pkgName, status.SEC_E_LOGON_DENIED, errors.New("negotiate: the server rejected the negotiation"))
	}
	if c.state == clientSentInit {
		c.state = clientWaitResp
		if resp.supportedMech != nil {
			sel := c.listedMech(resp.supportedMech)
			if sel == nil {
				return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN,
					fmt.Errorf("negotiate: the server selected %s, which was not offered", mechName(resp.supportedMech)))
			}
			if sel.mech != c.mech {
				return c.switchMech(ctx, *sel, resp, extra)
			}
		}
	}
	if resp.state == requestMIC {
		c.micRequired = true
	}
	var out []byte
	if len(resp.responseToken) > 0 {
		if c.innerSession() != nil {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: mechanism token after the mechanism completed"))
		}
		if out, err = c.stepInner(ctx, c.inner, resp.responseToken, extra); err != nil {
			return result{}, err
		}
	} else if c.innerSession() == nil {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN,
			fmt.Errorf("negotiate: %s reply without a mechanism token while %s is not complete", resp.state, c.mech.name))
	}
	return c.reply(out, resp)
}

// switchMech starts the mechanism the acceptor selected in place of the
// optimistic one (RFC 4178 5 (c)): the mechListMIC becomes mandatory.
func (c *clientContext) switchMech(ctx context.Context, sel mechCred, resp *negTokenResp, extra []secbuffer.Buffer) (result, error) {
	if len(resp.responseToken) > 0 {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN,
			fmt.Errorf("negotiate: a %s token before %s started", sel.mech.name, sel.mech.name))
	}
	c.inner.Delete()
	c.inner = nil
	inner, tok, err := c.startMech(ctx, sel, extra)
	if err != nil {
		return result{}, err
	}
	c.mech, c.inner = sel.mech, inner
	c.micRequired = true
	return c.reply(tok, &negTokenResp{state: acceptIncomplete})
}

// reply builds the initiator's NegTokenResp after the mechanism produced
// out (possibly nothing), adding the mechListMIC when the mechanism is
// complete and one is due (packages.md 3.4).
func (c *clientContext) reply(out []byte, resp *negTokenResp) (result, error) {
	if c.innerSession() == nil {
		if resp.mechListMIC != nil {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: mechListMIC before the mechanism completed"))
		}
		return c.respond(out, nil, false)
	}
	c.settleMICRule()
	integ := c.mechIntegrity()
	if resp.mechListMIC != nil && integ {
		if c.micReceived {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: a second mechListMIC"))
		}
		if err := c.verifyMIC(resp.mechListMIC); err != nil {
			return result{}, err
		}
	}
	// Without integrity no mechListMIC is used (RFC 4178 5): one the
	// acceptor sends anyway cannot be checked and is ignored.
	var mic []byte
	if integ && (c.micRequired || c.micReceived) && !c.micSent && resp.state != acceptCompleted {
		var err error
		if mic, err = c.signMIC(); err != nil {
			return result{}, err
		}
	}
	if resp.state != acceptCompleted {
		if len(out) == 0 && mic == nil {
			return result{}, status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN,
				fmt.Errorf("negotiate: %s reply with nothing left to send", resp.state))
		}
		// Once the mechanism is done and both MICs are exchanged, the
		// negotiation is over: the acceptor sent its MIC first and will not
		// answer ours (MIT krb5 behaves so; RFC 4178 5).
		done := len(out) == 0 && c.micSent && c.micReceived
		return c.respond(out, mic, done)
	}
	// The acceptor is done; so are we once its MIC, if one is due, checked.
	if (c.micSent || c.micRequired) && !c.micReceived {
		return result{}, status.New(c.op(), pkgName, status.SEC_E_MESSAGE_ALTERED, errors.New("negotiate: the server completed without the mechListMIC"))
	}
	if len(out) == 0 {
		return result{st: status.SEC_E_OK, done: true}, nil
	}
	return c.respond(out, nil, true)
}

// respond wraps a mechanism token and a mechListMIC in a NegTokenResp.
// Like Windows, the initiator sends no negState.
func (c *clientContext) respond(out, mic []byte, done bool) (result, error) {
	m := &negTokenResp{mechListMIC: mic}
	if len(out) > 0 {
		m.responseToken = out
	}
	enc, err := m.marshal()
	if err != nil {
		return result{}, err
	}
	st := status.SEC_I_CONTINUE_NEEDED
	if done {
		st = status.SEC_E_OK
	}
	return result{token: enc, st: st, done: done}, nil
}
