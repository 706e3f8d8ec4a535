package sspi

import (
	"context"

	"github.com/gosspi/sspi/packages"
)

// The calls below give a Context the shape of the GSS-API (RFC 2743), the
// shape the interfaces of go-ldap, x/crypto/ssh, go-mssqldb and most
// other Go consumers take: a step that says whether another token is
// needed, wrap with a choice of confidentiality, unwrap that says whether
// the message was sealed, MIC and verify, and the largest message that
// fits a given wrapped size. They are thin: each calls the SSPI-shaped
// method named in its doc, so both shapes share one implementation.

// GSSStep is gss_init_sec_context on a client context and
// gss_accept_sec_context on a server context: [Context.Step], with
// continueNeeded reporting GSS_S_CONTINUE_NEEDED. A non-empty out must be
// sent to the peer whether or not continueNeeded is set.
func (c *Context) GSSStep(ctx context.Context, in []byte) (out []byte, continueNeeded bool, err error) {
	out, err = c.Step(ctx, in)
	if err != nil {
		return out, false, err
	}
	return out, !c.Established(), nil
}

// confidentialityFlag is ISC_RET_CONFIDENTIALITY, which is also
// ASC_RET_CONFIDENTIALITY.
const confidentialityFlag = packages.ISC_RET_CONFIDENTIALITY

// GSSWrap is gss_wrap: it protects plain and returns one message in the
// package's own layout (see [Context.Wrap]). With confidential it seals
// when the context has confidentiality (ISC_RET_CONFIDENTIALITY or
// ASC_RET_CONFIDENTIALITY) and only signs otherwise, as gss_wrap applies
// integrity alone when confidentiality is not available; confState
// reports whether the message was sealed. Without confidential it only
// signs (SECQOP_WRAP_NO_ENCRYPT). plain is not modified.
func (c *Context) GSSWrap(plain []byte, confidential bool) (msg []byte, confState bool, err error) {
	confState = confidential && c.Flags()&confidentialityFlag != 0
	qop := uint32(packages.SECQOP_WRAP_NO_ENCRYPT)
	if confState {
		qop = 0
	}
	msg, err = c.wrap(qop, plain)
	if err != nil {
		return nil, false, err
	}
	return msg, confState, nil
}

// GSSUnwrap is gss_unwrap: it opens a message made by the peer's wrap
// ([Context.Unwrap]) and reports whether it was sealed (conf_state) or
// only signed. msg is not modified.
func (c *Context) GSSUnwrap(msg []byte) (plain []byte, confidential bool, err error) {
	plain, qop, err := c.unwrap(msg)
	if err != nil {
		return nil, false, err
	}
	return plain, qop != packages.SECQOP_WRAP_NO_ENCRYPT, nil
}

// GetMIC is gss_get_mic: [Context.MakeSignature] over msg with the
// default QOP.
func (c *Context) GetMIC(msg []byte) ([]byte, error) {
	return c.MakeSignature(msg, 0, 0)
}

// VerifyMIC is gss_verify_mic: [Context.VerifySignature] of mic over
// msg. A bad MIC is SEC_E_MESSAGE_ALTERED; a replayed or reordered one
// SEC_E_OUT_OF_SEQUENCE.
func (c *Context) VerifyMIC(msg, mic []byte) error {
	_, err := c.VerifySignature(msg, mic, 0)
	return err
}

// WrapSizeLimit is gss_wrap_size_limit: the largest plaintext whose
// [Context.GSSWrap] output fits in outputSize bytes. It is exact for
// packages that put a fixed-size token in front of the data (NTLM) and a
// safe lower bound for the others (Kerberos, Digest: the token's largest
// size and one block of padding are subtracted; Schannel: one record
// header and trailer per record). It returns 0 when nothing fits.
func (c *Context) WrapSizeLimit(outputSize int, confidential bool) (int, error) {
	if err := c.ready("QueryContextAttributes"); err != nil {
		return 0, err
	}
	if v, err := c.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES); err == nil {
		if ss, ok := v.(*packages.SecPkgContext_StreamSizes); ok && ss != nil && ss.MaximumMessage > 0 {
			return streamLimit(outputSize, int(ss.Header)+int(ss.Trailer), int(ss.MaximumMessage)), nil
		}
	}
	sz, err := c.Sizes()
	if err != nil {
		return 0, err
	}
	n := outputSize - int(sz.SecurityTrailer)
	if confidential {
		n -= int(sz.BlockSize)
	}
	return max(n, 0), nil
}

// streamLimit is the largest plaintext that fits in size bytes as
// records of at most maxRecord plaintext bytes, each costing overhead.
func streamLimit(size, overhead, maxRecord int) int {
	full := size / (maxRecord + overhead)
	n := full * maxRecord
	if rest := size - full*(maxRecord+overhead) - overhead; rest > 0 {
		n += rest
	}
	return n
}

// wrap is Wrap with a QOP, under the send lock.
func (c *Context) wrap(qop uint32, plain []byte) ([]byte, error) {
	const op = "EncryptMessage"
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	w, err := c.wrapper(op)
	if err != nil {
		return nil, err
	}
	sealed, err := w.Wrap(qop, plain)
	return sealed, wrapErr(op, c.info.Name, err)
}

// unwrap is Unwrap returning the QOP, under the receive lock.
func (c *Context) unwrap(sealed []byte) ([]byte, uint32, error) {
	const op = "DecryptMessage"
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	w, err := c.wrapper(op)
	if err != nil {
		return nil, 0, err
	}
	plain, qop, err := w.Unwrap(sealed)
	return plain, qop, wrapErr(op, c.info.Name, err)
}
