package sspi

import (
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// messageContext resolves the context and the buffer list of a message
// call.
func (r *Registry) messageContext(phContext *CtxtHandle, pMessage *secbuffer.Desc) (*Context, status.Status) {
	c, err := r.Context(phContext)
	if err != nil {
		return nil, status.Code(err)
	}
	if pMessage == nil {
		return nil, status.SEC_E_INVALID_TOKEN
	}
	if pMessage.Version != secbuffer.SECBUFFER_VERSION {
		return nil, status.SEC_E_INVALID_PARAMETER
	}
	return c, status.SEC_E_OK
}

// MakeSignature is MakeSignature on the default Registry.
func MakeSignature(phContext *CtxtHandle, fQOP uint32, pMessage *secbuffer.Desc, MessageSeqNo uint32) status.Status {
	return defaultRegistry().MakeSignature(phContext, fQOP, pMessage, MessageSeqNo)
}

// MakeSignature signs the SECBUFFER_DATA buffers of pMessage and writes the
// signature into its SECBUFFER_TOKEN buffer, whose capacity must be at
// least cbMaxSignature (SECPKG_ATTR_SIZES); its length becomes the
// signature's. fQOP is 0 for the Microsoft packages; MessageSeqNo is 0
// except for packages where the caller numbers messages.
func (r *Registry) MakeSignature(phContext *CtxtHandle, fQOP uint32, pMessage *secbuffer.Desc, MessageSeqNo uint32) status.Status {
	c, st := r.messageContext(phContext, pMessage)
	if c == nil {
		return st
	}
	return status.Code(c.MakeSignatureBuffers(fQOP, pMessage.Buffers, MessageSeqNo))
}

// VerifySignature is VerifySignature on the default Registry.
func VerifySignature(phContext *CtxtHandle, pMessage *secbuffer.Desc, MessageSeqNo uint32, pfQOP *uint32) status.Status {
	return defaultRegistry().VerifySignature(phContext, pMessage, MessageSeqNo, pfQOP)
}

// VerifySignature checks the signature in the SECBUFFER_TOKEN buffer of
// pMessage over its SECBUFFER_DATA buffers and stores the sender's QOP in
// *pfQOP, if given. A bad signature is SEC_E_MESSAGE_ALTERED, a replayed
// or reordered one SEC_E_OUT_OF_SEQUENCE.
func (r *Registry) VerifySignature(phContext *CtxtHandle, pMessage *secbuffer.Desc, MessageSeqNo uint32, pfQOP *uint32) status.Status {
	c, st := r.messageContext(phContext, pMessage)
	if c == nil {
		return st
	}
	qop, err := c.VerifySignatureBuffers(pMessage.Buffers, MessageSeqNo)
	if err != nil {
		return status.Code(err)
	}
	if pfQOP != nil {
		*pfQOP = qop
	}
	return status.SEC_E_OK
}

// EncryptMessage is EncryptMessage on the default Registry.
func EncryptMessage(phContext *CtxtHandle, fQOP uint32, pMessage *secbuffer.Desc, MessageSeqNo uint32) status.Status {
	return defaultRegistry().EncryptMessage(phContext, fQOP, pMessage, MessageSeqNo)
}

// EncryptMessage seals pMessage in place; see [Context.EncryptMessage] for
// the buffer layouts. fQOP 0 encrypts, SECQOP_WRAP_NO_ENCRYPT only signs.
// A header, trailer or padding buffer that is too small gives
// SEC_E_BUFFER_TOO_SMALL; a missing one SEC_E_INVALID_TOKEN.
func (r *Registry) EncryptMessage(phContext *CtxtHandle, fQOP uint32, pMessage *secbuffer.Desc, MessageSeqNo uint32) status.Status {
	c, st := r.messageContext(phContext, pMessage)
	if c == nil {
		return st
	}
	return status.Code(c.EncryptMessage(fQOP, pMessage.Buffers, MessageSeqNo))
}

// DecryptMessage is DecryptMessage on the default Registry.
func DecryptMessage(phContext *CtxtHandle, pMessage *secbuffer.Desc, MessageSeqNo uint32, pfQOP *uint32) status.Status {
	return defaultRegistry().DecryptMessage(phContext, pMessage, MessageSeqNo, pfQOP)
}

// DecryptMessage unseals pMessage in place and stores the sender's QOP in
// *pfQOP, if given (SECQOP_WRAP_NO_ENCRYPT for a message that was only
// signed). NTLM takes a SECBUFFER_TOKEN and a SECBUFFER_DATA; Kerberos also
// a SECBUFFER_STREAM holding the whole message and an empty SECBUFFER_DATA
// that ends up pointing at the plaintext; Schannel a SECBUFFER_DATA with
// the received bytes and three SECBUFFER_EMPTY. Schannel may return
// SEC_I_RENEGOTIATE, SEC_I_CONTEXT_EXPIRED or SEC_E_INCOMPLETE_MESSAGE.
func (r *Registry) DecryptMessage(phContext *CtxtHandle, pMessage *secbuffer.Desc, MessageSeqNo uint32, pfQOP *uint32) status.Status {
	c, st := r.messageContext(phContext, pMessage)
	if c == nil {
		return st
	}
	qop, st, err := c.DecryptMessage(pMessage.Buffers, MessageSeqNo)
	if err != nil {
		return status.Code(err)
	}
	if pfQOP != nil {
		*pfQOP = qop
	}
	return st
}
