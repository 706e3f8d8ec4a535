package alexbrainmantest

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/alexbrainman/sspi/negotiate"

	"github.com/gosspi/sspi/internal/peers"
)

// TestNegotiateHTTP is the original package's HTTP example rewritten
// against the mirror: a GET answered 401 "WWW-Authenticate: Negotiate",
// then the same request with "Authorization: Negotiate <token>" from
// negotiate.NewClientContext with the current user's credentials, and the
// server's final token given to Update. The server is lighttpd with
// mod_authn_gssapi (MIT's acceptor) over the realm's keytab.
func TestNegotiateHTTP(t *testing.T) {
	needKDC(t)
	_, err := os.Stat("/usr/lib/lighttpd/mod_authn_gssapi.so")
	peers.Require(t, "lighttpd mod_authn_gssapi (apt-get install -y lighttpd lighttpd-mod-authn-gssapi)", err == nil)
	port := peers.Lighttpd(t, t.TempDir(), env, []string{"mod_auth", "mod_authn_gssapi"}, "lighttpd page\n", fmt.Sprintf(`auth.backend = "gssapi"
auth.backend.gssapi.keytab = %q
auth.backend.gssapi.principal = "HTTP/localhost"
auth.backend.gssapi.store-creds = "disable"
auth.require = ("/" => ("method" => "gssapi", "realm" => %q, "require" => "valid-user"))
`, realm.ServiceKeytab, realm.Realm))
	url := fmt.Sprintf("http://localhost:%d/", port)
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	get := func(auth string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	resp, _ := get("")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate") {
		t.Fatalf("first GET: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	cred, err := negotiate.AcquireCurrentUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Release()
	secctx, token, err := negotiate.NewClientContext(cred, "HTTP/localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer secctx.Release()
	resp, body := get("Negotiate " + base64.StdEncoding.EncodeToString(token))
	if resp.StatusCode != http.StatusOK || body != "lighttpd page\n" {
		t.Fatalf("authenticated GET: %d %q", resp.StatusCode, body)
	}
	if h := resp.Header.Get("WWW-Authenticate"); strings.HasPrefix(h, "Negotiate ") {
		final, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Negotiate "))
		if err != nil {
			t.Fatal(err)
		}
		done, out, err := secctx.Update(final)
		if err != nil || !done || len(out) != 0 {
			t.Fatalf("Update(server's final token): done %v, %d bytes, %v", done, len(out), err)
		}
	}
}
