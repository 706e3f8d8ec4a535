// Package schannel is the Secure Channel (TLS) client API of
// github.com/alexbrainman/sspi/schannel, over gosspi's Schannel (TLS 1.2
// and 1.3 over crypto/tls through SSPI token passing).
//
// As in the original, the client asks for manual credential validation
// (ISC_REQ_MANUAL_CRED_VALIDATION): the server's certificate is not
// checked by the handshake; check it yourself if you need to.
package schannel

import (
	"errors"
	"io"
	"unsafe"

	"github.com/alexbrainman/sspi"
	gosspi "github.com/gosspi/sspi"
)

// PackageInfo describes the Schannel package.
var PackageInfo *sspi.PackageInfo

func init() {
	var err error
	if PackageInfo, err = sspi.QueryPackageInfo(sspi.UNISP_NAME); err != nil {
		panic("failed to fetch Schannel package info: " + err.Error())
	}
}

// AcquireClientCredentials acquires TLS client credentials (no client
// certificate).
func AcquireClientCredentials() (*sspi.Credentials, error) {
	return sspi.AcquireCredentials("", sspi.UNISP_NAME, sspi.SECPKG_CRED_OUTBOUND, nil)
}

// Status codes of the TLS record calls beyond those of package sspi.
const (
	secIRenegotiate           = 0x00090321
	secIContextExpired        = 0x00090317
	secIIncompleteCredentials = 0x00090320
	schannelShutdown          = 1
)

// Client is a TLS client over conn: Handshake, then Read and Write, and
// Shutdown to send close_notify.
type Client struct {
	ctx     *sspi.Context
	conn    io.ReadWriter
	in      []byte // received bytes not yet processed
	pending []byte // decrypted bytes not yet returned by Read
}

// NewClientContext returns a client over conn using cred.
func NewClientContext(cred *sspi.Credentials, conn io.ReadWriter) *Client {
	flags := uint32(sspi.ISC_REQ_STREAM | sspi.ISC_REQ_ALLOCATE_MEMORY | sspi.ISC_REQ_EXTENDED_ERROR | sspi.ISC_REQ_MANUAL_CRED_VALIDATION)
	return &Client{ctx: sspi.NewClientContext(cred, flags), conn: conn}
}

// readMore appends what conn gives to c.in.
func (c *Client) readMore() error {
	buf := make([]byte, 16<<10)
	n, err := c.conn.Read(buf)
	c.in = append(c.in, buf[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// step runs handshake calls over c.in until one neither asks for more
// bytes nor for a retry, sending every output; it returns the last
// status.
func (c *Client) step(target *uint16, readFirst bool) (sspi.SecBuffer, error) {
	if readFirst && len(c.in) == 0 {
		if err := c.readMore(); err != nil {
			return sspi.SecBuffer{}, err
		}
	}
	for {
		in := []sspi.SecBuffer{{BufferType: sspi.SECBUFFER_TOKEN}, {BufferType: sspi.SECBUFFER_EMPTY}}
		in[0].Set(sspi.SECBUFFER_TOKEN, c.in)
		out := []sspi.SecBuffer{{BufferType: sspi.SECBUFFER_TOKEN}}
		ret := c.ctx.Update(target, sspi.NewSecBufferDesc(out), sspi.NewSecBufferDesc(in))
		if _, err := out[0].WriteAll(c.conn); err != nil {
			return sspi.SecBuffer{}, err
		}
		switch ret {
		case sspi.SEC_E_INCOMPLETE_MESSAGE:
			if err := c.readMore(); err != nil {
				return sspi.SecBuffer{}, err
			}
			continue
		case secIIncompleteCredentials:
			continue // no client certificate: go on without one
		}
		if in[1].BufferType == sspi.SECBUFFER_EXTRA {
			c.in = append(c.in[:0], in[1].Bytes()...)
		} else {
			c.in = c.in[:0]
		}
		switch ret {
		case sspi.SEC_E_OK:
			return out[0], nil
		case sspi.SEC_I_CONTINUE_NEEDED:
			if len(c.in) == 0 {
				if err := c.readMore(); err != nil {
					return sspi.SecBuffer{}, err
				}
			}
			continue
		}
		return sspi.SecBuffer{}, ret
	}
}

// Handshake runs the TLS handshake with the server serverName (sent as
// SNI).
func (c *Client) Handshake(serverName string) error {
	name, err := gosspi.UTF16PtrFromString(serverName)
	if err != nil {
		return err
	}
	_, err = c.step(name, false)
	return err
}

func (c *Client) streamSizes() (*secPkgContextStreamSizes, error) {
	var ss secPkgContextStreamSizes
	if ret := sspi.QueryContextAttributes(c.ctx.Handle, secpkgAttrStreamSizes, (*byte)(unsafe.Pointer(&ss))); ret != sspi.SEC_E_OK {
		return nil, ret
	}
	return &ss, nil
}

// Write seals b in records and sends them. b is not modified.
func (c *Client) Write(b []byte) (int, error) {
	ss, err := c.streamSizes()
	if err != nil {
		return 0, err
	}
	total := 0
	for len(b) > 0 {
		chunk := b
		if len(chunk) > int(ss.MaximumMessage) {
			chunk = chunk[:ss.MaximumMessage]
		}
		var bufs [4]sspi.SecBuffer
		bufs[0].Set(sspi.SECBUFFER_STREAM_HEADER, make([]byte, ss.Header))
		bufs[1].Set(sspi.SECBUFFER_DATA, append([]byte(nil), chunk...))
		bufs[2].Set(sspi.SECBUFFER_STREAM_TRAILER, make([]byte, ss.Trailer))
		bufs[3].Set(sspi.SECBUFFER_EMPTY, nil)
		if ret := sspi.EncryptMessage(c.ctx.Handle, 0, sspi.NewSecBufferDesc(bufs[:]), 0); ret != sspi.SEC_E_OK {
			return total, ret
		}
		for i := 0; i < 3; i++ {
			if _, err := bufs[i].WriteAll(c.conn); err != nil {
				return total, err
			}
		}
		total += len(chunk)
		b = b[len(chunk):]
	}
	return total, nil
}

// Read returns decrypted application data; io.EOF once the server sent
// close_notify.
func (c *Client) Read(data []byte) (int, error) {
	for len(c.pending) == 0 {
		if len(c.in) == 0 {
			if err := c.readMore(); err != nil {
				return 0, err
			}
		}
		var bufs [4]sspi.SecBuffer
		bufs[0].Set(sspi.SECBUFFER_DATA, c.in)
		ret := sspi.DecryptMessage(c.ctx.Handle, sspi.NewSecBufferDesc(bufs[:]), 0, nil)
		switch ret {
		case sspi.SEC_E_INCOMPLETE_MESSAGE:
			if err := c.readMore(); err != nil {
				return 0, err
			}
			continue
		case sspi.SEC_E_OK, secIRenegotiate, secIContextExpired:
		default:
			return 0, ret
		}
		if i := indexOf(bufs[:], sspi.SECBUFFER_DATA); i >= 0 {
			c.pending = append(c.pending, bufs[i].Bytes()...)
		}
		var extra []byte
		if i := indexOf(bufs[:], sspi.SECBUFFER_EXTRA); i >= 0 {
			extra = append(extra, bufs[i].Bytes()...)
		}
		c.in = append(c.in[:0], extra...)
		switch ret {
		case secIContextExpired:
			if len(c.pending) == 0 {
				return 0, io.EOF
			}
		case secIRenegotiate:
			// A TLS 1.3 post-handshake message: the handshake call takes
			// it and answers if it must (KeyUpdate).
			if _, err := c.step(nil, false); err != nil {
				return 0, err
			}
		}
	}
	n := copy(data, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func indexOf(bs []sspi.SecBuffer, typ uint32) int {
	for i := range bs {
		if bs[i].BufferType == typ {
			return i
		}
	}
	return -1
}

// Shutdown sends close_notify.
func (c *Client) Shutdown() error {
	token := make([]byte, 4)
	token[0] = schannelShutdown
	var b sspi.SecBuffer
	b.Set(sspi.SECBUFFER_TOKEN, token)
	if ret := sspi.ApplyControlToken(c.ctx.Handle, sspi.NewSecBufferDesc([]sspi.SecBuffer{b})); ret != sspi.SEC_E_OK {
		return ret
	}
	in := []sspi.SecBuffer{{BufferType: sspi.SECBUFFER_TOKEN}, {BufferType: sspi.SECBUFFER_EMPTY}}
	out := []sspi.SecBuffer{{BufferType: sspi.SECBUFFER_TOKEN}}
	ret := c.ctx.Update(nil, sspi.NewSecBufferDesc(out), sspi.NewSecBufferDesc(in))
	if _, err := out[0].WriteAll(c.conn); err != nil {
		return err
	}
	switch ret {
	case sspi.SEC_E_OK, sspi.SEC_E_CONTEXT_EXPIRED, secIContextExpired:
		return nil
	}
	return ret
}

// Release deletes the context.
func (c *Client) Release() error { return c.ctx.Release() }

var errNoAttribute = errors.New("schannel: attribute not available")

// ProtocolInfo returns the TLS protocol name and version ("TLS", 1, 2 for
// TLS 1.2; 1, 3 for TLS 1.3).
func (c *Client) ProtocolInfo() (name string, major, minor uint32, err error) {
	var pi secPkgContextProtoInfo
	if ret := sspi.QueryContextAttributes(c.ctx.Handle, secpkgAttrProtoInfo, (*byte)(unsafe.Pointer(&pi))); ret != sspi.SEC_E_OK {
		return "", 0, 0, ret
	}
	return gosspi.UTF16PtrToString(pi.ProtocolName), pi.MajorVersion, pi.MinorVersion, nil
}

// UserName returns SECPKG_ATTR_NAMES.
func (c *Client) UserName() (string, error) {
	var ns struct{ UserName *uint16 }
	if ret := sspi.QueryContextAttributes(c.ctx.Handle, secpkgAttrNames, (*byte)(unsafe.Pointer(&ns))); ret != sspi.SEC_E_OK {
		return "", ret
	}
	return gosspi.UTF16PtrToString(ns.UserName), nil
}

// AuthorityName returns SECPKG_ATTR_AUTHORITY, which this Schannel does
// not report: it fails.
func (c *Client) AuthorityName() (string, error) { return "", errNoAttribute }

// KeyInfo returns SECPKG_ATTR_KEY_INFO: the session key size, the
// signature and encryption algorithms and their names.
func (c *Client) KeyInfo() (sessionKeySize uint32, sigAlg uint32, sigAlgName string, encAlg uint32, encAlgName string, err error) {
	var ki secPkgContextKeyInfo
	if ret := sspi.QueryContextAttributes(c.ctx.Handle, secpkgAttrKeyInfo, (*byte)(unsafe.Pointer(&ki))); ret != sspi.SEC_E_OK {
		return 0, 0, "", 0, "", ret
	}
	return ki.KeySize, ki.SignatureAlgorithm, gosspi.UTF16PtrToString(ki.SignatureAlgorithmName),
		ki.EncryptAlgorithm, gosspi.UTF16PtrToString(ki.EncryptAlgorithmName), nil
}

// Sizes returns the maximum token, maximum signature, block and security
// trailer sizes.
func (c *Client) Sizes() (uint32, uint32, uint32, uint32, error) { return c.ctx.Sizes() }

// Layouts and attribute numbers of sspi.h.
const (
	secpkgAttrNames       = 1
	secpkgAttrStreamSizes = 4
	secpkgAttrKeyInfo     = 5
	secpkgAttrProtoInfo   = 7
)

type secPkgContextStreamSizes struct {
	Header, Trailer, MaximumMessage, Buffers, BlockSize uint32
}

type secPkgContextProtoInfo struct {
	ProtocolName               *uint16
	MajorVersion, MinorVersion uint32
}

type secPkgContextKeyInfo struct {
	SignatureAlgorithmName, EncryptAlgorithmName  *uint16
	KeySize, SignatureAlgorithm, EncryptAlgorithm uint32
}
