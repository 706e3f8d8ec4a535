package schannel

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// The TLS 1.3 record layer of an established context is ours, not
// crypto/tls's. The write direction first: crypto/tls switches its write key the moment it reads a
// KeyUpdate that asks for ours (handleKeyUpdate in crypto/tls/conn.go), but
// an SSPI caller sends our answering KeyUpdate only when the next
// InitializeSecurityContext or AcceptSecurityContext call returns it. A
// record sealed in between under the new key would reach the peer before
// the KeyUpdate that announces it. So crypto/tls keeps the handshake and
// the read direction, and after the handshake a sealer13 seals our
// records (RFC 8446 §5.2) with the application traffic secret crypto/tls
// derived (it comes through tls.Config.KeyLogWriter), and moves to the
// next secret (RFC 8446 §7.2) only when the handshake call produces our
// KeyUpdate. The read direction follows (DecryptMessage): a sealer13 keyed
// with the peer's secret opens records in place, which saves crypto/tls's
// two copies and its allocation per record; content other than
// application data is re-sealed for crypto/tls under a second sealer13
// that mirrors crypto/tls's own read state.

// keyUpdateNotRequested is the KeyUpdate handshake message we send
// (RFC 8446 §4.6.3): type key_update (24), length 1, update_not_requested.
var keyUpdateNotRequested = [...]byte{24, 0, 0, 1, 0}

// closeNotify is a warning close_notify alert (RFC 8446 §6.1).
var closeNotify = [...]byte{1, 0}

const (
	// keyUpdateRecordLen is the size of our KeyUpdate record.
	keyUpdateRecordLen = recordHeaderLen + len(keyUpdateNotRequested) + 1 + aeadTagLen

	aeadTagLen   = 16
	aeadNonceLen = 12
	// maxSealedRecords bounds the records sealed under one key: the
	// sequence number must not wrap (RFC 8446 §5.3).
	maxSealedRecords = math.MaxUint64
)

// sealer13 protects the records we send under one TLS 1.3 traffic
// secret at a time. Its owner serialises calls.
type sealer13 struct {
	hash   func() hash.Hash
	keyLen int
	chacha bool

	secret []byte // current application traffic secret
	key    []byte
	iv     [aeadNonceLen]byte
	aead   cipher.AEAD
	seq    uint64 // sequence number of the next record

	nonce [aeadNonceLen]byte // per-record nonce, kept here so it does not escape
	ad    [recordHeaderLen]byte
}

// Format prints no key material, whatever the verb.
func (w sealer13) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "schannel.sealer13{seq: %d, key: [redacted]}", w.seq)
}

func newSealer13(s *suiteInfo, secret []byte) (*sealer13, error) {
	w := &sealer13{hash: sha256.New, keyLen: 16, chacha: s.chacha}
	switch {
	case s.chacha:
		w.keyLen = chacha20poly1305.KeySize
	case s.hashBits == 384:
		w.hash, w.keyLen = sha512.New384, 32
	}
	if err := w.setSecret(secret); err != nil {
		return nil, err
	}
	return w, nil
}

// expandLabel is HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
func expandLabel(h func() hash.Hash, secret []byte, label string, length int) ([]byte, error) {
	const prefix = "tls13 "
	info := make([]byte, 0, 4+len(prefix)+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len(prefix)+len(label)))
	info = append(info, prefix...)
	info = append(info, label...)
	info = append(info, 0) // empty Context
	return hkdf.Expand(h, secret, string(info), length)
}

// setSecret makes secret (which the sealer now owns) the current traffic
// secret: it derives the key and IV (RFC 8446 §7.3), restarts the
// sequence number and zeroes the previous secret and key.
func (w *sealer13) setSecret(secret []byte) error {
	key, err := expandLabel(w.hash, secret, "key", w.keyLen)
	if err != nil {
		return err
	}
	iv, err := expandLabel(w.hash, secret, "iv", aeadNonceLen)
	if err != nil {
		clear(key)
		return err
	}
	var aead cipher.AEAD
	if w.chacha {
		aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		clear(key)
		clear(iv)
		return err
	}
	w.zero()
	w.secret, w.key, w.aead, w.seq = secret, key, aead, 0
	copy(w.iv[:], iv)
	clear(iv)
	return nil
}

// update moves to the next traffic secret (RFC 8446 §7.2).
func (w *sealer13) update() error {
	next, err := expandLabel(w.hash, w.secret, "traffic upd", w.hash().Size())
	if err != nil {
		return err
	}
	return w.setSecret(next)
}

// zero forgets the secret and the key. (The AEAD's expanded key schedule
// belongs to crypto/aes or chacha20poly1305 and cannot be cleared.)
func (w *sealer13) zero() {
	clear(w.secret)
	clear(w.key)
	clear(w.iv[:])
	clear(w.nonce[:])
	w.secret, w.key, w.aead = nil, nil, nil
}

// next prepares the nonce and additional data of the next record, whose
// encrypted part (inner plaintext and tag) is n bytes long, and writes
// its header into w.ad.
func (w *sealer13) next(n int) error {
	if w.aead == nil {
		return errors.New("schannel: record keys are gone")
	}
	if w.seq == maxSealedRecords {
		return errors.New("schannel: record sequence number exhausted")
	}
	w.nonce = w.iv
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], w.seq)
	for i, b := range seq {
		w.nonce[aeadNonceLen-8+i] ^= b
	}
	w.ad = [recordHeaderLen]byte{recordTypeApplicationData, 3, 3, byte(n >> 8), byte(n)}
	return nil
}

// sealInPlace seals the n bytes of data at the start of buf, which has
// room for the content type and the tag after them (n+1+16 bytes),
// leaving the encrypted record body in buf; the record header is in w.ad.
func (w *sealer13) sealInPlace(buf []byte, n int, typ byte) error {
	body := n + 1 + aeadTagLen
	if err := w.next(body); err != nil {
		return err
	}
	buf = buf[:body]
	buf[n] = typ
	w.aead.Seal(buf[:0], w.nonce[:], buf[:n+1], w.ad[:])
	w.seq++
	return nil
}

// record returns a whole new record of content type typ holding payload.
func (w *sealer13) record(typ byte, payload []byte) ([]byte, error) {
	n := len(payload)
	rec := make([]byte, recordHeaderLen+n+1+aeadTagLen)
	copy(rec[recordHeaderLen:], payload)
	if err := w.sealInPlace(rec[recordHeaderLen:], n, typ); err != nil {
		return nil, err
	}
	copy(rec, w.ad[:])
	return rec, nil
}

// openInPlace opens rec, a whole record sealed under the current key at
// the current sequence number, inside its own bytes, and returns the inner
// plaintext (content, content type, padding) within rec.
func (w *sealer13) openInPlace(rec []byte) ([]byte, error) {
	body := rec[recordHeaderLen:]
	if err := w.next(len(body)); err != nil {
		return nil, err
	}
	plain, err := w.aead.Open(body[:0], w.nonce[:], body, rec[:recordHeaderLen])
	if err != nil {
		return nil, err
	}
	w.seq++
	return plain, nil
}

// resealInPlace turns rec back into the record openInPlace opened last:
// the same key, nonce, header and inner plaintext give the same bytes.
func (w *sealer13) resealInPlace(rec []byte, inner int) {
	w.seq--
	if w.next(len(rec)-recordHeaderLen) == nil {
		body := rec[recordHeaderLen:]
		w.aead.Seal(body[:0], w.nonce[:], body[:inner], rec[:recordHeaderLen])
	}
	w.seq++
}

// innerType splits a TLS 1.3 inner plaintext (RFC 8446 §5.2) into its
// content and content type; ok is false when it is all padding.
func innerType(plain []byte) (content []byte, typ byte, ok bool) {
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, false
	}
	return plain[:i], plain[i], true
}

// open reports whether rec, a whole record, opens under the current key
// at sequence number seq. It serves to count the records crypto/tls
// sealed under the application secret during the handshake (a TLS 1.3
// server's NewSessionTicket).
func (w *sealer13) open(rec []byte, seq uint64) bool {
	if len(rec) < recordHeaderLen+1+aeadTagLen || rec[0] != recordTypeApplicationData {
		return false
	}
	saved := w.seq
	w.seq = seq
	err := w.next(len(rec) - recordHeaderLen)
	w.seq = saved
	if err != nil {
		return false
	}
	plain, err := w.aead.Open(nil, w.nonce[:], rec[recordHeaderLen:], rec[:recordHeaderLen])
	clear(plain)
	return err == nil
}

// secretLog is the tls.Config.KeyLogWriter of a TLS 1.3 context: it keeps
// the application traffic secret of our write direction
// (CLIENT_TRAFFIC_SECRET_0 on a client, SERVER_TRAFFIC_SECRET_0 on a
// server; NSS key log format) and, from then on, has the connection keep
// a copy of what crypto/tls writes, so that the records it sealed under
// that secret can be counted. It runs on the handshake goroutine.
type secretLog struct {
	label     []byte
	peerLabel []byte
	conn      *memConn
	secret    []byte
	peer      []byte // the peer's application traffic secret
}

// Format prints no key material, whatever the verb.
func (l secretLog) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, "schannel.secretLog{[redacted]}")
}

func newSecretLog(client bool, conn *memConn) *secretLog {
	l := &secretLog{conn: conn, label: []byte("SERVER_TRAFFIC_SECRET_0 "), peerLabel: []byte("CLIENT_TRAFFIC_SECRET_0 ")}
	if client {
		l.label, l.peerLabel = l.peerLabel, l.label
	}
	return l
}

func (l *secretLog) Write(p []byte) (int, error) {
	var rest []byte
	peer := false
	switch {
	case bytes.HasPrefix(p, l.label):
		rest = p[len(l.label):]
	case bytes.HasPrefix(p, l.peerLabel):
		rest, peer = p[len(l.peerLabel):], true
	default:
		return len(p), nil
	}
	// LABEL <client random, hex> <secret, hex>\n
	fields := bytes.Fields(rest)
	if len(fields) != 2 {
		return 0, errors.New("schannel: unexpected key log line")
	}
	secret := make([]byte, hex.DecodedLen(len(fields[1])))
	if _, err := hex.Decode(secret, fields[1]); err != nil {
		clear(secret)
		return 0, errors.New("schannel: unexpected key log line")
	}
	if peer {
		clear(l.peer)
		l.peer = secret
		return len(p), nil
	}
	clear(l.secret)
	l.secret = secret
	if l.conn != nil {
		l.conn.keepTail = true
	}
	return len(p), nil
}

// take hands our secret over to the caller.
func (l *secretLog) take() []byte {
	s := l.secret
	l.secret = nil
	return s
}

// takePeer hands the peer's secret over to the caller.
func (l *secretLog) takePeer() []byte {
	s := l.peer
	l.peer = nil
	return s
}
