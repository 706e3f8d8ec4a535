package kerberos

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// TestDecryptEncPartShort feeds every enctype ciphertexts of each length
// up to one past its floor: none may panic (gokrb5's own DecryptMessage
// slices before it checks), the short ones fail with errShortCipher, and
// a real ciphertext still decrypts.
func TestDecryptEncPartShort(t *testing.T) {
	// Key sizes by enctype (RFC 3961, 3962, 4757, 8009); gokrb5's
	// GetKeyByteSize is wrong for 20.
	keySize := map[int32]int{16: 24, 17: 16, 18: 32, 19: 16, 20: 32, 23: 16}
	for _, etype := range []int32{16, 17, 18, 19, 20, 23} {
		et, err := crypto.GetEtype(etype)
		if err != nil {
			t.Fatal(err)
		}
		key := types.EncryptionKey{KeyType: etype, KeyValue: bytes.Repeat([]byte{7}, keySize[etype])}
		floor := et.GetConfounderByteSize() + et.GetHMACBitLength()/8
		for n := 0; n <= floor+1; n++ {
			_, err := decryptEncPart(types.EncryptedData{EType: etype, Cipher: make([]byte, n)}, key, keyusage.AP_REP_ENCPART)
			if err == nil {
				t.Errorf("etype %d: %d zero bytes decrypted", etype, n)
			}
			if n < floor && !errors.Is(err, errShortCipher) {
				t.Errorf("etype %d: %d bytes gave %v, want errShortCipher", etype, n, err)
			}
		}
		ed, err := crypto.GetEncryptedData([]byte("plain"), key, keyusage.AP_REP_ENCPART, 0)
		if err != nil {
			t.Fatalf("etype %d: %v", etype, err)
		}
		got, err := decryptEncPart(ed, key, keyusage.AP_REP_ENCPART)
		// des3-cbc-sha1 pads to its block; the padding stays.
		if err != nil || !bytes.HasPrefix(got, []byte("plain")) {
			t.Errorf("etype %d: round trip gave %q, %v", etype, got, err)
		}
		ed.Cipher[len(ed.Cipher)-1] ^= 1
		if _, err := decryptEncPart(ed, key, keyusage.AP_REP_ENCPART); err == nil {
			t.Errorf("etype %d: altered ciphertext decrypted", etype)
		}
	}
}

// TestShortCipherTokens gives each leg that decrypts a peer's enc-part an
// otherwise well-formed message with a 1-byte cipher: the DCE third leg
// (found by FuzzThirdLeg), the client's AP-REP, and the ticket of an
// AP-REQ. Each must fail with a status, not panic.
func TestShortCipherTokens(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	short, err := marshalAPRep(18, []byte{0})
	if err != nil {
		t.Fatal(err)
	}
	buf := func() []secbuffer.Buffer {
		return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	}
	tok := func(b []byte) []secbuffer.Buffer {
		return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: b}}
	}

	t.Run("ThirdLeg", func(t *testing.T) {
		c, _ := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_USE_DCE_STYLE)
		s, _ := m.server.NewServerContext(0)
		o1 := buf()
		if _, err := c.Step(context.Background(), nil, o1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Step(context.Background(), tok(o1[0].Data), buf()); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{short, frameToken(tokAPRep, short)} {
			if st, err := s.Step(context.Background(), tok(b), buf()); err == nil || st.Succeeded() {
				t.Errorf("short AP-REP gave %v, %v", st, err)
			}
		}
	})
	t.Run("APRep", func(t *testing.T) {
		c, _ := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
		if _, err := c.Step(context.Background(), nil, buf()); err != nil {
			t.Fatal(err)
		}
		if st, err := c.Step(context.Background(), tok(frameToken(tokAPRep, short)), nil); err == nil || st.Succeeded() {
			t.Errorf("short AP-REP gave %v, %v", st, err)
		}
	})
	for _, part := range []string{"ticket", "authenticator"} {
		t.Run("APReq/"+part, func(t *testing.T) {
			o1 := buf()
			c, _ := m.client.NewClientContext("HTTP/localhost", 0)
			if _, err := c.Step(context.Background(), nil, o1); err != nil {
				t.Fatal(err)
			}
			_, msg, err := parseFraming(o1[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			var req messages.APReq
			if err := req.Unmarshal(msg); err != nil {
				t.Fatal(err)
			}
			if part == "ticket" {
				req.Ticket.EncPart.Cipher = []byte{0}
			} else {
				req.EncryptedAuthenticator.Cipher = []byte{0}
			}
			der, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s, _ := m.server.NewServerContext(0)
			if st, err := s.Step(context.Background(), tok(frameToken(tokAPReq, der)), buf()); err == nil || st != status.SEC_E_LOGON_DENIED {
				t.Errorf("AP-REQ with a 1-byte %s gave %v, %v; want SEC_E_LOGON_DENIED", part, st, err)
			}
		})
	}
}
