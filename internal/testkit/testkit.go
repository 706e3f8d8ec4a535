// Package testkit holds what tests across the module share: the reader
// for vector files in testdata/, the path to that folder, and an in-memory
// driver that runs a client context against a server context.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Path returns the path of elem under the module's testdata folder, from
// whichever package directory the test runs in.
func Path(elem ...string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: cannot locate source file")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	return filepath.Join(append([]string{root}, elem...)...)
}

// Vector is one vector file: a "key: value" header, a blank line, then a
// payload. Hex payloads (whitespace and '#' comments ignored) are decoded
// into Data; Text keeps the payload as written.
type Vector struct {
	Name   string            // file name without folder
	Header map[string]string // keys lower-cased
	Text   string            // payload as written
	Data   []byte            // payload decoded as hex, if it is hex
}

// Get returns the header value for key, or "".
func (v *Vector) Get(key string) string { return v.Header[strings.ToLower(key)] }

// Hex decodes the header value for key as hex, ignoring spaces.
func (v *Vector) Hex(key string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(v.Get(key), " ", ""))
}

// ParseVector parses a vector file's content.
func ParseVector(name string, b []byte) (*Vector, error) {
	v := &Vector{Name: name, Header: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var body []string
	inBody := false
	for sc.Scan() {
		line := sc.Text()
		if !inBody {
			if strings.TrimSpace(line) == "" {
				inBody = true
				continue
			}
			k, val, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("testkit: %s: header line without colon: %q", name, line)
			}
			v.Header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
			continue
		}
		body = append(body, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	v.Text = strings.Join(body, "\n")
	var hx strings.Builder
	for _, l := range body {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		hx.WriteString(strings.Join(strings.Fields(l), ""))
	}
	if d, err := hex.DecodeString(hx.String()); err == nil {
		v.Data = d
	}
	return v, nil
}

// Vectors reads every regular file in testdata/<dir> (sorted by name) as a
// Vector.
func Vectors(dir string) ([]*Vector, error) {
	root := Path(dir)
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []*Vector
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		v, err := ParseVector(e.Name(), b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Leg records one handshake step of [Handshake].
type Leg struct {
	Client bool          // true for an ISC step, false for ASC
	Status status.Status // the step's status
	Token  []byte        // the output token (may be empty)
}

// Handshake runs client against server in memory until both are
// established or one fails, passing each output token to the other side.
// extraIn, if non-nil, is appended to every input buffer list (for
// example a SECBUFFER_CHANNEL_BINDINGS buffer); clientExtra and serverExtra
// apply to one side only. It returns the legs taken and the first error.
func Handshake(ctx context.Context, client, server packages.Context, clientExtra, serverExtra []secbuffer.Buffer) ([]Leg, error) {
	var legs []Leg
	var token []byte
	clientTurn := true
	for i := 0; i < 32; i++ {
		c, extra := server, serverExtra
		if clientTurn {
			c, extra = client, clientExtra
		}
		var in []secbuffer.Buffer
		if token != nil || !clientTurn {
			in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token})
		}
		in = append(in, extra...)
		// Output buffers start small and grow when the package says
		// SEC_E_BUFFER_TOO_SMALL, which must leave the context usable
		// (the provider contract): most tokens fit the first try.
		var out []secbuffer.Buffer
		var st status.Status
		var err error
		for size := 2048; ; size *= 2 {
			out = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, size)}}
			st, err = c.Step(ctx, in, out)
			if status.Code(err) != status.SEC_E_BUFFER_TOO_SMALL || size >= 1<<20 {
				break
			}
		}
		legs = append(legs, Leg{Client: clientTurn, Status: st, Token: out[0].Data})
		if err != nil {
			return legs, err
		}
		token = out[0].Data
		if client.Session() != nil && server.Session() != nil {
			return legs, nil
		}
		if st == status.SEC_E_OK && len(token) == 0 {
			// This side is done and has nothing to send; the other side
			// must be done too, or the exchange is stuck.
			return legs, fmt.Errorf("testkit: %s established with no token while the peer is not", side(clientTurn))
		}
		clientTurn = !clientTurn
	}
	return legs, fmt.Errorf("testkit: handshake did not finish in 32 legs")
}

func side(client bool) string {
	if client {
		return "client"
	}
	return "server"
}
