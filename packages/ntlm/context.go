package ntlm

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// state is where a context stands in its handshake.
type state int

const (
	stateStart         state = iota
	stateSentNegotiate       // client: NEGOTIATE sent, CHALLENGE expected
	stateSentChallenge       // server: CHALLENGE sent, AUTHENTICATE expected
	stateEstablished
	stateFailed
	stateDeleted
)

func (s state) String() string {
	switch s {
	case stateStart:
		return "start"
	case stateSentNegotiate:
		return "sent NEGOTIATE"
	case stateSentChallenge:
		return "sent CHALLENGE"
	case stateEstablished:
		return "established"
	case stateFailed:
		return "failed"
	case stateDeleted:
		return "deleted"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// unexpectedMessageError reports a token that does not fit the handshake.
type unexpectedMessageError struct {
	expected string
	got      string
}

func (e *unexpectedMessageError) Error() string {
	return fmt.Sprintf("ntlm: expected %s, got %s", e.expected, e.got)
}

// ntlmContext is what client and server contexts share: the handshake
// result and the per-message functions. It is safe for concurrent use:
// the handshake fields are guarded by mu; after the handshake each
// direction of the session has its own lock.
type ntlmContext struct {
	pkg    *Package // constant
	client bool     // constant
	req    uint32   // constant: ISC_REQ_* or ASC_REQ_* flags

	mu         sync.Mutex // guards the fields below
	state      state
	err        error  // the sticky failure
	retFlags   uint32 // ISC_RET_* or ASC_RET_*
	exported   [16]byte
	clientName string // DOMAIN\user
	serverName string // the SPN or the server's name
	anonymous  bool
	id         identity // client: its copy of the user's keys, zeroed when the handshake ends
	start      time.Time
	authMIC    bool // the AUTHENTICATE carried a MIC (MsvAvFlags 0x2)

	sessFlags  uint32       // the negotiated flags, set when established
	sess       *ntlmSession // built when established; the context's until handedOver
	handedOver bool         // Session returned sess: its caller owns it now
}

func (c *ntlmContext) config() *Config { return &c.pkg.config }

func (c *ntlmContext) op() string {
	if c.client {
		return "InitializeSecurityContext"
	}
	return "AcceptSecurityContext"
}

// fail makes the failure sticky and returns it. Call with mu held.
func (c *ntlmContext) fail(st status.Status, cause error) (status.Status, error) {
	err := status.New(c.op(), Name, st, cause)
	c.state, c.err = stateFailed, err
	c.clearKeys()
	return st, err
}

// stepPrologue refuses a Step call on a failed, deleted or established
// context. Call with mu held.
func (c *ntlmContext) stepPrologue() error {
	switch c.state {
	case stateFailed:
		return c.err
	case stateDeleted:
		return status.New(c.op(), Name, status.SEC_E_INVALID_HANDLE, nil)
	case stateEstablished:
		_, err := c.fail(status.SEC_E_OUT_OF_SEQUENCE, errors.New("ntlm: handshake already complete"))
		return err
	}
	return nil
}

// outToken returns the SECBUFFER_TOKEN output buffer and whether the
// package allocates (ISC_REQ_ALLOCATE_MEMORY and ASC_REQ_ALLOCATE_MEMORY
// are both 0x100).
func (c *ntlmContext) outToken(out []secbuffer.Buffer) (*secbuffer.Buffer, bool) {
	return secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN), c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0
}

// bindings returns the channel-binding hash of a SECBUFFER_CHANNEL_BINDINGS
// input buffer, and whether there was one.
func bindings(in []secbuffer.Buffer) ([16]byte, bool, error) {
	b := secbuffer.Find(in, secbuffer.SECBUFFER_CHANNEL_BINDINGS)
	if b == nil {
		return [16]byte{}, false, nil
	}
	cb, err := secbuffer.ParseChannelBindings(b.Data)
	if err != nil {
		return [16]byte{}, false, err
	}
	return cb.Hash(), true, nil
}

// establish records the result of a successful handshake. Call with mu
// held.
func (c *ntlmContext) establish(flags uint32, exported [16]byte) {
	c.exported = exported
	c.state = stateEstablished
	c.start = c.config().now()
	c.retFlags = c.contextFlags(flags)
	c.sessFlags = flags
	c.sess = newNTLMSession(flags, exported, c.client)
}

// retFlagMap maps negotiated NTLM flags to ISC_RET_* and ASC_RET_* bits
// (packages.md 1.3; pyspnego's mapping): SIGN or SEAL give integrity,
// replay and sequence detection, SEAL confidentiality. NTLM never gives
// mutual authentication or delegation.
var retFlagMap = []struct {
	ntlm     uint32
	isc, asc uint32
}{
	{flagSign | flagSeal,
		packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT,
		packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT},
	{flagSeal, packages.ISC_RET_CONFIDENTIALITY, packages.ASC_RET_CONFIDENTIALITY},
	{flagIdentify, packages.ISC_RET_IDENTIFY, packages.ASC_RET_IDENTIFY},
}

// contextFlags returns the ISC_RET_* or ASC_RET_* bits for the negotiated
// flags.
func (c *ntlmContext) contextFlags(flags uint32) uint32 {
	r := uint32(packages.ISC_RET_CONNECTION) // = ASC_RET_CONNECTION
	for _, m := range retFlagMap {
		if flags&m.ntlm == 0 {
			continue
		}
		if c.client {
			r |= m.isc
		} else {
			r |= m.asc
		}
	}
	switch {
	case c.anonymous && c.client:
		r |= packages.ISC_RET_NULL_SESSION
	case c.anonymous:
		r |= packages.ASC_RET_NULL_SESSION
	}
	if c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 {
		r |= packages.ISC_RET_ALLOCATED_MEMORY // = ASC_RET_ALLOCATED_MEMORY
	}
	return r
}

// clearKeys zeroes the keys the handshake holds, and the session's if it
// was never handed over. Call with mu held.
func (c *ntlmContext) clearKeys() {
	if c.sess != nil && !c.handedOver {
		c.sess.Delete()
	}
	clear(c.exported[:])
	c.id.clear()
}

// Session implements packages.Context: once the handshake is done, the
// caller takes the session and owns it.
func (c *ntlmContext) Session() packages.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateEstablished {
		return nil
	}
	c.handedOver = true
	return c.sess
}

// Flags implements packages.Context.
func (c *ntlmContext) Flags() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.retFlags
}

// Expiry implements packages.Context: NTLM contexts do not expire.
func (c *ntlmContext) Expiry() time.Time { return time.Time{} }

// Algorithm ids reported by SECPKG_ATTR_KEY_INFO: the CryptoAPI ALG_IDs
// of the primitives (wincrypt.h). What Windows reports here was not
// checked; these describe what the context actually uses.
const (
	calgRC4  = 0x00006801
	calgHMAC = 0x00008009
	calgCRC  = 0 // no ALG_ID exists for CRC32
)

// QueryAttribute implements packages.Context.
func (c *ntlmContext) QueryAttribute(attr uint32) (any, error) {
	if attr == packages.SECPKG_ATTR_SIZES {
		s := sizes
		return &s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch attr {
	case packages.SECPKG_ATTR_NEGOTIATION_INFO:
		st := uint32(packages.SECPKG_NEGOTIATION_IN_PROGRESS)
		if c.state == stateEstablished {
			st = packages.SECPKG_NEGOTIATION_COMPLETE
		}
		return &packages.NegotiationInfo{PackageInfo: info, NegotiationState: st}, nil
	case packages.SECPKG_ATTR_FLAGS:
		return &packages.SecPkgContext_Flags{Flags: c.retFlags}, nil
	}
	if c.state != stateEstablished {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	switch attr {
	case packages.SECPKG_ATTR_NAMES:
		return &packages.Names{UserName: c.clientName}, nil
	case packages.SECPKG_ATTR_NATIVE_NAMES:
		return &packages.NativeNames{ClientName: c.clientName, ServerName: c.serverName}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		return &packages.SecPkgContext_SessionKey{SessionKey: append([]byte(nil), c.exported[:]...)}, nil
	case packages.SECPKG_ATTR_LIFESPAN:
		return &packages.SecPkgContext_Lifespan{Start: packages.NewTimeStamp(c.start), Expiry: packages.TimeStampNever}, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		f := c.sessFlags
		ki := &packages.KeyInfo{EncryptAlgorithmName: "RC4", EncryptAlgorithm: calgRC4}
		switch {
		case f&flag128 != 0:
			ki.KeySize = 128
		case f&flag56 != 0:
			ki.KeySize = 56
		default:
			ki.KeySize = 40
		}
		if f&flagExtendedSessionSecurity != 0 {
			ki.SignatureAlgorithmName, ki.SignatureAlgorithm = "HMAC-MD5", calgHMAC
		} else {
			ki.SignatureAlgorithmName, ki.SignatureAlgorithm = "CRC32", calgCRC
		}
		return ki, nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

// MICPresent reports whether the AUTHENTICATE message of the completed
// handshake carried a MIC (MsvAvFlags 0x2). The Negotiate package then
// requires the SPNEGO mechListMIC whenever signing was negotiated, as
// Windows acceptors do: the NTLM MIC covers the three messages, so a
// peer cannot strip it, and with it the mechListMIC proves the
// mechanism list was not rewritten.
func (c *ntlmContext) MICPresent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateEstablished && c.authMIC
}

// Delete implements packages.Context.
func (c *ntlmContext) Delete() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearKeys()
	c.state = stateDeleted
}
