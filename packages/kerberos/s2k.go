package kerberos

import (
	"context"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"
)

// ErrBadS2KParams is the cause reported when the KDC's ETYPE-INFO2 asks
// for a string-to-key iteration count this package refuses.
var ErrBadS2KParams = errors.New("kerberos: string-to-key parameters out of bounds")

// String-to-key parameters are bounded as MIT krb5 bounds them
// (lib/crypto/krb/s2k_pbkdf2.c, KRB5_ERR_BAD_S2K_PARAMS): the s2kparams of
// the AES enctypes must be 4 bytes, a big-endian iteration count that is
// neither below the enctype's default (4096 for the RFC 3962
// aes-cts-hmac-sha1-96 enctypes, 32768 for the RFC 8009 aes-cts-hmac-sha2
// ones) nor at or above 2^24; 0 (which RFC 3962 reads as 2^32) is
// refused too. A low count would make the PA-ENC-TIMESTAMP cheap to
// brute-force for an attacker on the path; a huge one would burn seconds
// to minutes of CPU. Within the bounds the derivation checks its context
// every few thousand iterations, so a deadline ends it.
const (
	maxS2KIterations  = 1 << 24
	s2kCheckEvery     = 2048
	defaultIterSHA1   = 4096
	defaultIterSHA2   = 32768
	etypeAES128SHA1   = 17
	etypeAES256SHA1   = 18
	etypeAES128SHA256 = 19
	etypeAES256SHA384 = 20
)

// s2kIterations returns the PBKDF2 iteration count for etype and the
// KDC's s2kparams (nil: the default).
func s2kIterations(etype int32, params []byte) (int, error) {
	def := defaultIterSHA1
	if etype == etypeAES128SHA256 || etype == etypeAES256SHA384 {
		def = defaultIterSHA2
	}
	if params == nil {
		return def, nil
	}
	if len(params) != 4 {
		return 0, fmt.Errorf("%w: s2kparams of %d bytes for enctype %d", ErrBadS2KParams, len(params), etype)
	}
	n := binary.BigEndian.Uint32(params)
	if n == 0 || n < uint32(def) || n >= maxS2KIterations {
		return 0, fmt.Errorf("%w: %d iterations for enctype %d (allowed: %d to %d)", ErrBadS2KParams, n, etype, def, maxS2KIterations-1)
	}
	return int(n), nil
}

// isAES reports whether etype is one of the PBKDF2-based enctypes.
func isAES(etype int32) bool {
	return etype >= etypeAES128SHA1 && etype <= etypeAES256SHA384
}

// stringToKey derives the password's key of etype with salt and the
// KDC's s2kparams (nil for the default), honouring ctx. Enctypes other
// than AES (rc4-hmac) have no iteration count and use gokrb5's function.
func stringToKey(ctx context.Context, password string, etype int32, salt string, params []byte) (types.EncryptionKey, error) {
	et, err := crypto.GetEtype(etype)
	if err != nil {
		return types.EncryptionKey{}, fmt.Errorf("kerberos: enctype %d: %w", etype, err)
	}
	if !isAES(etype) {
		b, err := et.StringToKey(password, salt, "")
		if err != nil {
			return types.EncryptionKey{}, err
		}
		return types.EncryptionKey{KeyType: etype, KeyValue: b}, nil
	}
	iter, err := s2kIterations(etype, params)
	if err != nil {
		return types.EncryptionKey{}, err
	}
	keyLen := et.GetKeyByteSize()
	pbSalt := []byte(salt)
	switch etype {
	case etypeAES128SHA256:
		// RFC 8009 4: saltp = enctype-name | 0x00 | salt.
		pbSalt = append([]byte("aes128-cts-hmac-sha256-128\x00"), salt...)
	case etypeAES256SHA384:
		pbSalt = append([]byte("aes256-cts-hmac-sha384-192\x00"), salt...)
		keyLen = 32
	}
	raw, err := pbkdf2Ctx(ctx, et.GetHashFunc(), []byte(password), pbSalt, iter, keyLen)
	if err != nil {
		return types.EncryptionKey{}, err
	}
	defer clear(raw)
	tkey := et.RandomToKey(raw)
	key, err := et.DeriveKey(tkey, []byte("kerberos"))
	clear(tkey)
	if err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: key}, nil
}

// defaultSalt is RFC 4120 4's default salt: the realm followed by the
// name's components.
func defaultSalt(cname types.PrincipalName, realm string) string {
	return realm + strings.Join(cname.NameString, "")
}

// pbkdf2Ctx is PBKDF2 (RFC 8018 5.2) with HMAC over h, checking ctx every
// s2kCheckEvery iterations.
func pbkdf2Ctx(ctx context.Context, h func() hash.Hash, password, salt []byte, iter, keyLen int) ([]byte, error) {
	prf := hmac.New(h, password)
	hLen := prf.Size()
	blocks := (keyLen + hLen - 1) / hLen
	out := make([]byte, 0, blocks*hLen)
	u := make([]byte, 0, hLen)
	t := make([]byte, hLen)
	var idx [4]byte
	for block := 1; block <= blocks; block++ {
		binary.BigEndian.PutUint32(idx[:], uint32(block))
		prf.Reset()
		prf.Write(salt)
		prf.Write(idx[:])
		u = prf.Sum(u[:0])
		copy(t, u)
		for n := 2; n <= iter; n++ {
			if n%s2kCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					clear(out[:cap(out)])
					clear(t)
					clear(u)
					return nil, fmt.Errorf("kerberos: string-to-key interrupted: %w", err)
				}
			}
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for i := range t {
				t[i] ^= u[i]
			}
		}
		out = append(out, t...)
	}
	clear(t)
	clear(u)
	clear(out[keyLen:])
	return out[:keyLen], nil
}
