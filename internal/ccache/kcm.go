package ccache

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// DefaultKCMSocket is where sssd-kcm and Heimdal's kcm listen, and where
// MIT looks when krb5.conf sets no kcm_socket.
const DefaultKCMSocket = "/var/run/.heim_org.h5l.kcm-socket"

// KCM protocol version and the opcodes used (Heimdal's kcm_operation,
// MIT include/kcm.h).
const (
	kcmMajor = 2
	kcmMinor = 0

	kcmOpInitialize      = 4
	kcmOpStore           = 6
	kcmOpGetPrincipal    = 8
	kcmOpGetCredUUIDList = 9
	kcmOpGetCredByUUID   = 10
	kcmOpGetDefaultCache = 20

	kcmUUIDLen = 16
)

// Error codes a KCM daemon answers with (krb5 com_err codes).
const (
	kcmErrNoFile   = -1765328189 // KRB5_FCC_NOFILE
	kcmErrNotFound = -1765328243 // KRB5_CC_NOTFOUND
	kcmErrEnd      = -1765328242 // KRB5_CC_END
)

// KCMError is a failure code a KCM daemon answered with.
type KCMError struct {
	Op   int
	Code int32
}

func (e *KCMError) Error() string {
	return fmt.Sprintf("ccache: KCM operation %d: daemon answered error %d", e.Op, e.Code)
}

// Is makes the "no such cache" codes match ErrNotFound.
func (e *KCMError) Is(target error) bool {
	return target == ErrNotFound && (e.Code == kcmErrNoFile || e.Code == kcmErrNotFound || e.Code == kcmErrEnd)
}

// kcmConn is one connection to the daemon; requests on it are
// sequential.
type kcmConn struct {
	c net.Conn
}

func dialKCM(ctx context.Context, o *Options) (*kcmConn, error) {
	path := o.KCMSocket
	if path == "" {
		path = DefaultKCMSocket
	}
	var c net.Conn
	var err error
	if o.dial != nil {
		c, err = o.dial(ctx)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "unix", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: no KCM daemon at %s: %v", ErrNotFound, path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	return &kcmConn{c: c}, nil
}

func (k *kcmConn) Close() error { return k.c.Close() }

// kcmRequest builds a request: version, opcode, then the arguments.
func kcmRequest(op int, name string, args ...[]byte) []byte {
	b := []byte{kcmMajor, kcmMinor, byte(op >> 8), byte(op)}
	if name != "" {
		b = append(b, name...)
		b = append(b, 0)
	}
	for _, a := range args {
		b = append(b, a...)
	}
	return b
}

// call sends a request and returns the reply's payload (after its
// status). The framing is MIT's over a UNIX socket: the request behind a
// 4-byte big-endian length; the reply as a 4-byte length, a 4-byte
// transport code, then length bytes that begin with the 4-byte status.
func (k *kcmConn) call(op int, req []byte) ([]byte, error) {
	msg := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(req)), uint32(len(req)))
	msg = append(msg, req...)
	_, err := k.c.Write(msg)
	clear(msg)
	if err != nil {
		return nil, fmt.Errorf("ccache: KCM: %w", err)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(k.c, hdr[:]); err != nil {
		return nil, fmt.Errorf("ccache: KCM: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if code := int32(binary.BigEndian.Uint32(hdr[4:])); code != 0 {
		return nil, &KCMError{Op: op, Code: code}
	}
	if n > MaxKCMReply {
		return nil, fmt.Errorf("%w: KCM reply of %d bytes", ErrTooLarge, n)
	}
	reply := make([]byte, n)
	if _, err := io.ReadFull(k.c, reply); err != nil {
		return nil, fmt.Errorf("ccache: KCM: %w", err)
	}
	return parseKCMReply(op, reply)
}

// parseKCMReply splits a reply into its status and payload.
func parseKCMReply(op int, reply []byte) ([]byte, error) {
	if len(reply) > MaxKCMReply {
		return nil, fmt.Errorf("%w: KCM reply of %d bytes", ErrTooLarge, len(reply))
	}
	if len(reply) < 4 {
		return nil, fmt.Errorf("%w: KCM reply of %d bytes", ErrFormat, len(reply))
	}
	if code := int32(binary.BigEndian.Uint32(reply)); code != 0 {
		return nil, &KCMError{Op: op, Code: code}
	}
	return reply[4:], nil
}

// parseKCMName reads the NUL-terminated cache name of a reply.
func parseKCMName(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", fmt.Errorf("%w: KCM name without NUL", ErrFormat)
	}
	return string(b[:i]), nil
}

// parseKCMUUIDs splits a UUID list (the whole payload).
func parseKCMUUIDs(b []byte) ([][]byte, error) {
	if len(b)%kcmUUIDLen != 0 {
		return nil, fmt.Errorf("%w: KCM UUID list of %d bytes", ErrFormat, len(b))
	}
	if len(b)/kcmUUIDLen > MaxCredentials {
		return nil, fmt.Errorf("%w: %d KCM credentials", ErrTooLarge, len(b)/kcmUUIDLen)
	}
	var ids [][]byte
	for ; len(b) > 0; b = b[kcmUUIDLen:] {
		ids = append(ids, b[:kcmUUIDLen:kcmUUIDLen])
	}
	return ids, nil
}

// kcmCache is a KCM: cache, named by the daemon's residual.
type kcmCache struct {
	residual string
	o        Options
}

// resolveKCM opens KCM:residual, asking the daemon for its default cache
// when residual is empty.
func resolveKCM(ctx context.Context, residual string, o *Options) (Cache, error) {
	c := &kcmCache{residual: residual, o: *o}
	if residual != "" {
		return c, nil
	}
	k, err := dialKCM(ctx, o)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	reply, err := k.call(kcmOpGetDefaultCache, kcmRequest(kcmOpGetDefaultCache, ""))
	if err != nil {
		return nil, err
	}
	if c.residual, err = parseKCMName(reply); err != nil {
		return nil, err
	}
	if c.residual == "" {
		return nil, fmt.Errorf("%w: KCM default cache has an empty name", ErrFormat)
	}
	return c, nil
}

func (c *kcmCache) Name() string { return "KCM:" + c.residual }

func (c *kcmCache) Load(ctx context.Context) (Principal, []Credential, error) {
	k, err := dialKCM(ctx, &c.o)
	if err != nil {
		return Principal{}, nil, err
	}
	defer k.Close()
	reply, err := k.call(kcmOpGetPrincipal, kcmRequest(kcmOpGetPrincipal, c.residual))
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	if len(reply) == 0 {
		// Heimdal answers an uninitialised cache with no principal.
		return Principal{}, nil, fmt.Errorf("%w: %s", ErrNotFound, c.Name())
	}
	p, err := ParsePrincipal(reply)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	reply, err = k.call(kcmOpGetCredUUIDList, kcmRequest(kcmOpGetCredUUIDList, c.residual))
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	ids, err := parseKCMUUIDs(reply)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	var creds []Credential
	fail := func(err error) (Principal, []Credential, error) {
		for i := range creds {
			creds[i].Zero()
		}
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	for _, id := range ids {
		reply, err := k.call(kcmOpGetCredByUUID, kcmRequest(kcmOpGetCredByUUID, c.residual, id))
		if e, ok := err.(*KCMError); ok && e.Is(ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return fail(err)
		}
		cred, err := ParseCredential(reply)
		clear(reply)
		if err != nil {
			return fail(err)
		}
		creds = append(creds, cred)
	}
	return p, creds, nil
}

func (c *kcmCache) Store(ctx context.Context, cred *Credential) error {
	k, err := dialKCM(ctx, &c.o)
	if err != nil {
		return err
	}
	defer k.Close()
	b := MarshalCredential(cred)
	req := kcmRequest(kcmOpStore, c.residual, b)
	clear(b)
	_, err = k.call(kcmOpStore, req)
	clear(req)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name(), err)
	}
	return nil
}

func (c *kcmCache) Initialize(ctx context.Context, p Principal, creds []Credential) error {
	k, err := dialKCM(ctx, &c.o)
	if err != nil {
		return err
	}
	defer k.Close()
	if _, err := k.call(kcmOpInitialize, kcmRequest(kcmOpInitialize, c.residual, MarshalPrincipal(p))); err != nil {
		return fmt.Errorf("%s: %w", c.Name(), err)
	}
	for i := range creds {
		b := MarshalCredential(&creds[i])
		req := kcmRequest(kcmOpStore, c.residual, b)
		clear(b)
		_, err := k.call(kcmOpStore, req)
		clear(req)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
	}
	return nil
}
