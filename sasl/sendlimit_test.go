package sasl

import (
	"fmt"
	"testing"
)

// TestGSSAPISendLimit: under GSSAPI each side sends frames within both
// advertised buffer sizes, whichever side advertised the smaller one, as
// Samba's gensec_gssapi requires (it refuses a frame over the smaller
// size even from a peer it told a larger one). The frames on the wire are
// checked, each way.
func TestGSSAPISendLimit(t *testing.T) {
	r := kerberosRealm(t, "Kerberos")
	for _, sizes := range [][2]int{{3000, 1200}, {1200, 3000}} {
		t.Run(fmt.Sprintf("client %d server %d", sizes[0], sizes[1]), func(t *testing.T) {
			s, err := bind(t, r, bindCase{
				mech: GSSAPI, tcp: true,
				cli: ClientConfig{Layer: LayerConfidentiality, RequireLayer: true, MaxReceive: sizes[0]},
				srv: ServerConfig{MaxReceive: sizes[1]},
			})
			if err != nil {
				t.Fatal(err)
			}
			checkSession(t, s, LayerConfidentiality, false)
			for _, sec := range []*Security{s.client.Security(), s.server.Security()} {
				if sec.MaxSend() != 1200 {
					t.Errorf("MaxSend %d, want 1200, the smaller size", sec.MaxSend())
				}
			}
			pump(t, s, 20<<10, 5000)
			checkWire(t, s, LayerConfidentiality, false)
		})
	}
}
