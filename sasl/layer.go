package sasl

import (
	"errors"
	"strings"

	"github.com/gosspi/sspi"
)

// Mechanism is a SASL mechanism name, as sent in an LDAP SASL bind.
type Mechanism string

// The mechanisms of this package.
const (
	// GSSAPI is the Kerberos V5 mechanism of RFC 4752: the context
	// handshake, then one round in which the server offers security
	// layers and the client chooses one (the 4-byte negotiation).
	GSSAPI Mechanism = "GSSAPI"

	// GSSSPNEGO is the mechanism Active Directory and Samba offer for
	// SPNEGO (RFC 4178, MS-SPNG): the context handshake only. There is no
	// layer negotiation: the layer follows the integrity and
	// confidentiality flags of the context (see the package doc).
	GSSSPNEGO Mechanism = "GSS-SPNEGO"
)

// Layer is a SASL security layer, one bit of the RFC 4752 3.3 bit mask.
// Layers are ordered: LayerNone < LayerIntegrity < LayerConfidentiality.
type Layer uint8

// The security layers of RFC 4752 3.3.
const (
	LayerNone            Layer = 1 // no security layer
	LayerIntegrity       Layer = 2 // integrity protection (GSS_Wrap with conf_flag FALSE)
	LayerConfidentiality Layer = 4 // confidentiality protection (GSS_Wrap with conf_flag TRUE)

	allLayers = LayerNone | LayerIntegrity | LayerConfidentiality
)

// String returns "none", "integrity", "confidentiality", or a list of
// them joined by "|" for a mask.
func (l Layer) String() string {
	if l == 0 {
		return "0"
	}
	var names []string
	for _, x := range []struct {
		l    Layer
		name string
	}{{LayerNone, "none"}, {LayerIntegrity, "integrity"}, {LayerConfidentiality, "confidentiality"}} {
		if l&x.l != 0 {
			names = append(names, x.name)
		}
	}
	if l&^allLayers != 0 {
		names = append(names, "unknown")
	}
	return strings.Join(names, "|")
}

// single reports whether l is exactly one known layer.
func (l Layer) single() bool {
	return l == LayerNone || l == LayerIntegrity || l == LayerConfidentiality
}

var (
	// ErrTooWeak reports that no security layer acceptable to this side
	// is possible: the peer offers none the configuration accepts, or
	// the context lacks the protection the configuration requires
	// (Cyrus SASL's SASL_TOOWEAK).
	ErrTooWeak = errors.New("sasl: no acceptable security layer")

	// ErrFrameTooLarge reports a frame whose length is over the receive
	// buffer size this side advertised (RFC 4422 3.7), or a message over
	// the peer's.
	ErrFrameTooLarge = errors.New("sasl: frame exceeds the maximum buffer size")

	// ErrNotEncrypted reports a frame that was only signed on a layer
	// whose frames must be encrypted: a downgrade.
	ErrNotEncrypted = errors.New("sasl: frame was not encrypted on a confidentiality layer")

	// ErrProtocol reports a SASL exchange message that breaks RFC 4752 or
	// arrives out of turn.
	ErrProtocol = errors.New("sasl: protocol violation")
)

// runsNTLM reports whether the context's messages are NTLM's: a bare NTLM
// context or a Negotiate one that selected NTLM.
func runsNTLM(c *sspi.Context) bool {
	return strings.EqualFold(c.NegotiatedPackage(), "NTLM")
}

// mayRunNTLM reports whether a context of package pkg may end up running
// NTLM (NTLM itself, or Negotiate, which can fall back to it).
func mayRunNTLM(pkg string) bool {
	return strings.EqualFold(pkg, "NTLM") || strings.EqualFold(pkg, "Negotiate")
}

// ClientFlags returns the ISC_REQ_* flags a client context needs to run
// mech with the wanted layer, when its credentials belong to package pkg
// ("Kerberos", "Negotiate" or "NTLM"). [NewClient] uses them; pass them to
// [sspi.NewClientContext] when building the context yourself for
// [NewClientFromContext].
//
// With GSSAPI the layer is negotiated after the handshake, so the flags
// allow every layer: RFC 4752 3.1 asks for mutual authentication,
// sequencing and integrity when any layer may be chosen, and
// confidentiality for the confidentiality layer; integrity also protects
// the negotiation messages themselves.
//
// With GSS-SPNEGO the flags are the negotiation (MS-ADTS 5.1.2.1,
// Samba's and Cyrus SASL's GSS-SPNEGO): no integrity or confidentiality
// flag for LayerNone (with ISC_REQ_NO_INTEGRITY for Negotiate, which adds
// integrity by default), ISC_REQ_INTEGRITY for LayerIntegrity and both for
// LayerConfidentiality. NTLM over LDAP is an exception: Active Directory
// and Samba treat an NTLM session with SIGN as sealed (Samba's
// GENSEC_FEATURE_LDAP_STYLE), and Windows LDAP clients seal, so when pkg
// may run NTLM ("NTLM", or "Negotiate", whose mechanism is not known
// before the handshake) LayerIntegrity also asks for confidentiality and
// the frames are sealed. With Negotiate that selects Kerberos the context
// then carries the confidentiality flag too, and both sides use
// LayerConfidentiality.
func ClientFlags(mech Mechanism, layer Layer, pkg string) uint32 {
	const layered = sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_INTEGRITY |
		sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_REPLAY_DETECT
	if mech != GSSSPNEGO {
		return layered | sspi.ISC_REQ_CONFIDENTIALITY
	}
	switch layer {
	case LayerNone:
		if strings.EqualFold(pkg, "Negotiate") {
			return sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_NO_INTEGRITY
		}
		return sspi.ISC_REQ_MUTUAL_AUTH
	case LayerIntegrity:
		if mayRunNTLM(pkg) {
			return layered | sspi.ISC_REQ_CONFIDENTIALITY
		}
		return layered
	default:
		return layered | sspi.ISC_REQ_CONFIDENTIALITY
	}
}

// ServerFlags returns the ASC_REQ_* flags [NewServer] gives its context:
// every protection the client may ask for is granted, since the layer is
// the client's choice among those the server offers.
func ServerFlags() uint32 {
	return sspi.ASC_REQ_MUTUAL_AUTH | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_CONFIDENTIALITY |
		sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_REPLAY_DETECT
}

// flagLayer returns the layer the flags of an established context give
// under GSS-SPNEGO, as Active Directory and Cyrus SASL read them:
// confidentiality when the context has it, else integrity when it has
// that, else none.
func flagLayer(c *sspi.Context) Layer {
	f := c.Flags()
	conf, integ := uint32(sspi.ASC_RET_CONFIDENTIALITY), uint32(sspi.ASC_RET_INTEGRITY)
	if c.IsClient() {
		conf, integ = sspi.ISC_RET_CONFIDENTIALITY, sspi.ISC_RET_INTEGRITY
	}
	switch {
	case f&conf != 0:
		return LayerConfidentiality
	case f&integ != 0:
		return LayerIntegrity
	}
	return LayerNone
}

// offerable returns the layers an established context can carry, as
// Cyrus SASL's GSSAPI server computes them from the context flags: none
// always, integrity when the context has integrity, confidentiality when
// it has confidentiality.
func offerable(c *sspi.Context) Layer {
	switch flagLayer(c) {
	case LayerConfidentiality:
		return allLayers
	case LayerIntegrity:
		return LayerNone | LayerIntegrity
	}
	return LayerNone
}

// choose picks a layer from offered for a client that wants want: want
// itself when offered; otherwise, unless require, the offered layer
// closest to it, the stronger on a tie (so a client that wants integrity
// takes confidentiality rather than nothing). With require, integrity is
// also satisfied by confidentiality, which includes it.
func choose(offered, want Layer, require bool) (Layer, error) {
	offered &= allLayers
	if offered&want != 0 {
		return want, nil
	}
	if require {
		if want == LayerIntegrity && offered&LayerConfidentiality != 0 {
			return LayerConfidentiality, nil
		}
		return 0, ErrTooWeak
	}
	var order []Layer
	switch want {
	case LayerNone:
		order = []Layer{LayerIntegrity, LayerConfidentiality}
	case LayerIntegrity:
		order = []Layer{LayerConfidentiality, LayerNone}
	default:
		order = []Layer{LayerIntegrity, LayerNone}
	}
	for _, l := range order {
		if offered&l != 0 {
			return l, nil
		}
	}
	return 0, ErrTooWeak
}

// acceptable reports whether a client that wants want (and require)
// accepts the layer got that a GSS-SPNEGO context gave.
func acceptable(got, want Layer, require bool) bool {
	if !require || got == want {
		return true
	}
	return want == LayerIntegrity && got == LayerConfidentiality
}
