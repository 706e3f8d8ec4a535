package sspi

import "github.com/gosspi/sspi/packages"

// PAC is what a Kerberos acceptor decoded from the Privilege Attribute
// Certificate (MS-PAC) of the client's ticket, once its server signature
// was checked: the user SID and group SIDs of the logon info (empty when
// the KDC sent no KERB_VALIDATION_INFO, as MIT's KDC does without a
// plugin), the client name of PAC_CLIENT_INFO, the UPN_DNS_INFO
// ([UPNDNSInfo]: UPN, DNS domain and, in its extended form, SAM name and
// SID) and the raw buffers.
//
// A ticket whose PAC does not parse (a buffer outside the PAC, a bad
// count, a malformed UPN_DNS_INFO, ...) or whose server signature does
// not verify fails AcceptSecurityContext with SEC_E_LOGON_DENIED, as on
// Windows; errors.Is(err, kerberos.ErrMalformedPAC) or
// kerberos.ErrPACSignature tells which.
//
// The type is the provider contract's plain [packages.PAC], so a caller,
// or another Kerberos package, depends on no package's types.
type PAC = packages.PAC

// UPNDNSInfo is the UPN_DNS_INFO buffer of a PAC (MS-PAC 2.10), in
// [PAC].UPNDNSInfo.
type UPNDNSInfo = packages.UPNDNSInfo

// PAC returns the PAC of the client's ticket on an established server
// context of Kerberos, or of Negotiate when it selected Kerberos. It
// reports false for client contexts, for other packages (NTLM, Digest,
// Schannel, Negotiate over NTLM), before the handshake has completed,
// after Delete, and when the ticket carried no PAC.
//
// The accessor works with any package whose acceptor contexts implement
// [packages.PACContext]. The PAC is shared with the context: callers must
// not modify it.
func (c *Context) PAC() (*PAC, bool) {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() || !c.established.Load() {
		return nil, false
	}
	pc, ok := c.pc.(packages.PACContext)
	if !ok {
		return nil, false
	}
	p := pc.PAC()
	return p, p != nil
}
