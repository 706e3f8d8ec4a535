package kerberos

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/secbuffer"
)

// TestFailedDecryptLeavesNoPlaintext: when a sealed message fails its
// integrity check, the caller's buffers hold no part of the plaintext
// afterwards (aes-sha1 and rc4-hmac decrypt before they check; before the
// fix the plaintext stayed in the DATA buffer).
func TestFailedDecryptLeavesNoPlaintext(t *testing.T) {
	plain := bytes.Repeat([]byte("TOP-SECRET-DATA!"), 8)
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		keyLen := 16
		if etype == 18 || etype == 20 {
			keyLen = 32
		}
		key := types.EncryptionKey{KeyType: etype, KeyValue: bytes.Repeat([]byte{7}, keyLen)}
		snd, err := newSession(key, true, false, 0, 0, true, fixedReader{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 128)},
			{Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(plain)},
			{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 16)},
		}
		if _, err := snd.encryptMessage(0, bufs); err != nil {
			t.Fatalf("etype %d: %v", etype, err)
		}
		tok, data, pad := bufs[0].Data, bufs[1].Data, bufs[2].Data
		// Tamper with each position of the data and of the token's last
		// bytes (checksum or rotated ciphertext).
		positions := []int{}
		for i := 0; i < len(data); i += 17 {
			positions = append(positions, len(tok)+i)
		}
		for i := len(tok) - 12; i < len(tok); i++ {
			positions = append(positions, i)
		}
		for _, pos := range positions {
			rcv, err := newSession(key, false, false, 0, 0, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := append(append(append([]byte(nil), tok...), data...), pad...)
			msg[pos] ^= 0x01
			in := []secbuffer.Buffer{
				{Type: secbuffer.SECBUFFER_TOKEN, Data: msg[:len(tok)]},
				{Type: secbuffer.SECBUFFER_DATA, Data: msg[len(tok) : len(tok)+len(data)]},
			}
			if len(pad) > 0 {
				in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_PADDING, Data: msg[len(tok)+len(data):]})
			}
			if _, _, err := rcv.decryptMessage(in); err == nil {
				t.Fatalf("etype %d: a message altered at %d decrypted", etype, pos)
			}
			if bytes.Contains(msg, []byte("SECRET-DATA")) {
				t.Fatalf("etype %d: altered at %d: plaintext left in the buffers after the failure", etype, pos)
			}
		}
	}
}
