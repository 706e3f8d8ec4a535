package kerberos

import (
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/ccache"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Delegated credentials on the acceptor (RFC 4121 4.1.1: the KRB-CRED of
// the authenticator checksum). The acceptor context owns the forwarded
// TGT it read; everyone else gets a copy: DelegatedCredentials hands out
// a new one on each call, and outbound credentials passed back to
// AcquireCredentials as auth data are copied again. Each copy zeroes its
// own keys when freed, and the context zeroes its own on Delete.

// DelegatedCredentials returns a new copy of the outbound credentials
// the client delegated (its forwarded TGT, announced by
// ASC_RET_DELEGATE), usable with NewClientContext as the client, or nil.
// The caller owns the copy and should Free it, which zeroes its keys;
// deleting the context zeroes the context's own.
func (c *serverContext) DelegatedCredentials() packages.Credentials {
	if c.delegated == nil {
		return nil
	}
	d, err := c.delegated.clone(c.p, c.delegated.conf)
	if err != nil {
		return nil
	}
	return d
}

// Delete zeroes the session keys, the ticket session key and the
// delegated credentials' keys.
func (c *serverContext) Delete() {
	if c.delegated != nil {
		c.delegated.Free()
		c.delegated = nil
	}
	clear(c.tktKey.KeyValue)
	c.baseContext.Delete()
}

// clone returns outbound credentials of package p with copies of c's
// client principal, password or keytab, TGT and service tickets, keys
// included.
func (c *credentials) clone(p *Package, conf *config.Config) (*credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freed {
		return nil, status.Errorf(status.SEC_E_INVALID_HANDLE, "kerberos: credentials already freed")
	}
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 {
		return nil, status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: credentials are not outbound")
	}
	n := &credentials{
		p: p, conf: conf, use: packages.SECPKG_CRED_OUTBOUND,
		cname: clonePrincipal(c.cname), crealm: c.crealm,
		password: c.password, clientKT: c.clientKT, delegated: c.delegated,
		tgt: c.tgt.clone(),
	}
	if len(c.tickets) > 0 {
		n.tickets = make(map[string]*ticket, len(c.tickets))
		for k, t := range c.tickets {
			n.tickets[k] = t.clone()
		}
	}
	return n, nil
}

// loadCredentials makes c a copy of src: AcquireCredentials with
// outbound Kerberos credentials as auth data, such as those of
// DelegatedCredentials.
func (c *credentials) loadCredentials(src *credentials) error {
	if src == nil {
		return status.Errorf(status.SEC_E_UNKNOWN_CREDENTIALS, "kerberos: nil credentials")
	}
	n, err := src.clone(c.p, c.conf)
	if err != nil {
		return err
	}
	c.cname, c.crealm, c.password, c.clientKT, c.delegated = n.cname, n.crealm, n.password, n.clientKT, n.delegated
	c.tgt, c.tickets = n.tgt, n.tickets
	return nil
}

func (t *ticket) clone() *ticket {
	if t == nil {
		return nil
	}
	n := *t
	n.key = types.EncryptionKey{KeyType: t.key.KeyType, KeyValue: slices.Clone(t.key.KeyValue)}
	n.cname = clonePrincipal(t.cname)
	n.ticket.SName = clonePrincipal(t.ticket.SName)
	n.ticket.EncPart.Cipher = slices.Clone(t.ticket.EncPart.Cipher)
	// The acceptor's decrypted part is never set on a client's ticket.
	return &n
}

func clonePrincipal(p types.PrincipalName) types.PrincipalName {
	return types.PrincipalName{NameType: p.NameType, NameString: slices.Clone(p.NameString)}
}

// CCacheWriter is implemented by outbound credentials that can be written
// as an MIT FILE credential cache: this package's, and Negotiate's when
// they hold Kerberos credentials.
type CCacheWriter interface {
	// WriteCCache writes the credentials' TGT and service tickets, with
	// their session keys, as a version 4 FILE credential cache, the
	// format kinit writes and KRB5CCNAME=FILE:path names. The output
	// holds secrets.
	WriteCCache(w io.Writer) error
}

var _ CCacheWriter = (*credentials)(nil)

// WriteCCache writes the credentials' tickets as a version 4 FILE
// credential cache: the client principal as the default principal, then
// the TGT and the service tickets held, each with its session key,
// times and flags. Credentials that hold no ticket yet (a password or a
// keytab before their first InitializeSecurityContext) give
// SEC_E_NO_CREDENTIALS.
func (c *credentials) WriteCCache(w io.Writer) error {
	const op = "WriteCCache"
	c.mu.Lock()
	if c.freed {
		c.mu.Unlock()
		return errorf(op, status.SEC_E_INVALID_HANDLE, errors.New("kerberos: credentials already freed"))
	}
	var ts []*ticket
	if c.tgt != nil {
		ts = append(ts, c.tgt)
	}
	for _, k := range slices.Sorted(maps.Keys(c.tickets)) {
		ts = append(ts, c.tickets[k])
	}
	file := &ccache.File{Version: 4, Principal: ccache.Principal{NameType: c.cname.NameType, Realm: c.crealm, Components: c.cname.NameString}}
	if file.Principal.NameType == 0 {
		file.Principal.NameType = nametype.KRB_NT_PRINCIPAL
	}
	var err error
	for _, t := range ts {
		var cred *ccache.Credential
		if cred, err = credFromTicket(t); err != nil {
			break
		}
		file.Credentials = append(file.Credentials, *cred) // shares the key: never zeroed here
	}
	var out []byte
	if err == nil {
		out = file.Marshal() // sized once, so no copies of the keys are left behind
	}
	c.mu.Unlock()
	defer clear(out) // the keys
	switch {
	case err != nil:
		return errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	case len(ts) == 0:
		return errorf(op, status.SEC_E_NO_CREDENTIALS, errors.New("kerberos: the credentials hold no ticket"))
	}
	if _, err := w.Write(out); err != nil {
		return errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	return nil
}
