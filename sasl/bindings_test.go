package sasl

import (
	"errors"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// exchange runs a GSS-SPNEGO exchange between cli and srv in memory and
// returns the first error, and which side had it.
func exchange(cli *Client, srv *Server) (side string, err error) {
	var challenge []byte
	for leg := 0; leg < 6; leg++ {
		resp, err := cli.Step(bg, challenge)
		if err != nil {
			return "client", err
		}
		out, done, err := srv.Step(bg, resp)
		if err != nil {
			return "server", err
		}
		if done {
			if _, err := cli.Finish(bg, out); err != nil {
				return "client", err
			}
			return "", nil
		}
		challenge = out
	}
	return "client", errors.New("no end after 6 legs")
}

// TestChannelBindings: ClientConfig.ChannelBindings and
// ServerConfig.ChannelBindings reach the contexts' handshake as
// SECBUFFER_CHANNEL_BINDINGS buffers, through NTLM directly and through
// Negotiate (whose last leg, the mechListMIC, runs in Finish): an
// acceptor that requires bindings takes a client with the same ones, and
// refuses with SEC_E_BAD_BINDINGS a client with other bindings or none.
func TestChannelBindings(t *testing.T) {
	cbA := &secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:channel A")}
	cbB := &secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:channel B")}
	for _, pkg := range []string{"NTLM", "Negotiate"} {
		nt := ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: ntlmDomain, Workstation: "CLIENT", RequireChannelBindings: true})
		r := sspi.NewRegistry()
		r.Register(nt)
		r.Register(negotiate.New(&negotiate.Config{NTLM: nt, PackageList: "NTLM"}))
		var server any = ntlm.Users{ntlmDomain + `\` + ntlmUser: ntlmPassword}
		if pkg == "Negotiate" {
			server = &negotiate.AuthData{NTLM: server}
		}
		rl := acquire(t, r, pkg, "ldap/server.example.com",
			&sspi.AuthIdentity{User: ntlmUser, Domain: ntlmDomain, Password: ntlmPassword}, server, true)
		for _, tc := range []struct {
			name     string
			cli, srv *secbuffer.ChannelBindings
			ok       bool
		}{
			{"same", cbA, cbA, true},
			{"different", cbA, cbB, false},
			{"client sends none", nil, cbA, false},
		} {
			t.Run(pkg+"/"+tc.name, func(t *testing.T) {
				cli := NewClient(rl.client, &ClientConfig{Mechanism: GSSSPNEGO, Target: rl.target, Layer: LayerNone, ChannelBindings: tc.cli})
				defer cli.DeleteSecContext()
				srv, err := NewServer(rl.server, &ServerConfig{Mechanism: GSSSPNEGO, ChannelBindings: tc.srv})
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				side, err := exchange(cli, srv)
				if tc.ok {
					if err != nil {
						t.Fatalf("%s: %v", side, err)
					}
					if name, err := srv.Context().UserName(); err != nil || name == "" {
						t.Errorf("server UserName %q, %v", name, err)
					}
					return
				}
				if side != "server" || status.Code(err) != status.SEC_E_BAD_BINDINGS {
					t.Fatalf("%s: %v; want the server to fail with SEC_E_BAD_BINDINGS", side, err)
				}
			})
		}
	}
}
