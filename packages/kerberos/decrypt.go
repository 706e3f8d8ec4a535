package kerberos

import (
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// errShortCipher reports an enc-part too short to hold the confounder and
// the checksum of its encryption type.
var errShortCipher = errors.New("kerberos: ciphertext shorter than its confounder and checksum")

// decryptEncPart decrypts and verifies an enc-part taken off the wire.
// Every such decryption goes through here rather than gokrb5's own
// helpers, whose encryption types slice the ciphertext before checking
// its length (a 1-byte cipher panics). The length floor is the etype's
// confounder plus its checksum (RFC 3961 5.3); the recover is a second
// guard so that no input from a peer or a KDC can panic the process.
// The AES enctypes take the package's own path (enctype.go), which
// derives its keys without gokrb5's allocations.
func decryptEncPart(ed types.EncryptedData, key types.EncryptionKey, usage uint32) (plain []byte, err error) {
	defer func() {
		if recover() != nil {
			plain, err = nil, errors.New("kerberos: malformed ciphertext")
		}
	}()
	if plain, ok, err := decryptAES(key, usage, ed.Cipher); ok {
		return plain, err
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("kerberos: %w", err)
	}
	if len(ed.Cipher) < et.GetConfounderByteSize()+et.GetHMACBitLength()/8 {
		return nil, errShortCipher
	}
	return et.DecryptMessage(key.KeyValue, ed.Cipher, usage)
}

// decryptTicket decrypts a ticket's enc-part with the service key.
func decryptTicket(t *messages.Ticket, key types.EncryptionKey) error {
	b, err := decryptEncPart(t.EncPart, key, keyusage.KDC_REP_TICKET)
	if err != nil {
		return err
	}
	var enc messages.EncTicketPart
	if err := enc.Unmarshal(b); err != nil {
		return fmt.Errorf("kerberos: malformed EncTicketPart: %w", err)
	}
	t.DecryptedEncPart = enc
	return nil
}

// decryptAuthenticator decrypts an AP-REQ's authenticator with the
// ticket's session key (key usage 11; 7 for a TGS-REQ's, which an
// acceptor never sees).
func decryptAuthenticator(a *messages.APReq, key types.EncryptionKey) error {
	b, err := decryptEncPart(a.EncryptedAuthenticator, key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		return err
	}
	if err := a.Authenticator.Unmarshal(b); err != nil {
		return fmt.Errorf("kerberos: malformed authenticator: %w", err)
	}
	return nil
}
