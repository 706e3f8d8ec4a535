package sspihttp_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/sspihttp"
)

// A server that requires NTLM or Digest, and a client that authenticates
// to it with a password.
func Example() {
	s := &sspihttp.Server{
		Schemes: []string{sspihttp.SchemeNTLM, sspihttp.SchemeDigest},
		NTLM:    ntlm.Users{`EXAMPLE\alice`: "alice-pw"},
		Digest:  digest.Users{{Name: "alice", Password: "alice-pw"}},
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := sspihttp.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", id.Name, id.Scheme)
	})
	ts := httptest.NewUnstartedServer(s.Middleware(hello))
	ts.Config.ConnContext = sspihttp.ConnContext
	ts.Start()
	defer ts.Close()

	for _, scheme := range []string{sspihttp.SchemeNTLM, sspihttp.SchemeDigest} {
		tr := &sspihttp.Transport{
			Schemes:     []string{scheme},
			Credentials: &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "alice-pw"},
		}
		resp, err := (&http.Client{Transport: tr}).Get(ts.URL + "/")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		fmt.Println(resp.StatusCode, string(body))
	}
	// Output:
	// 200 hello EXAMPLE\alice (NTLM)
	// 200 hello alice (Digest)
}

// The Transport's Trace shows each leg of an NTLM handshake.
func ExampleTransport() {
	s := &sspihttp.Server{Schemes: []string{sspihttp.SchemeNTLM}, NTLM: ntlm.Users{"bob": "bob-pw"}}
	ts := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	ts.Config.ConnContext = sspihttp.ConnContext
	ts.Start()
	defer ts.Close()

	tr := &sspihttp.Transport{
		Credentials: &packages.AuthIdentity{User: "bob", Domain: "WORKGROUP", Password: "bob-pw"},
		Trace: func(req *http.Request, resp *http.Response) {
			fmt.Printf("%s %q -> %s\n", req.Method, scheme(req.Header.Get("Authorization")), resp.Status)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(ts.URL + "/")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// Output:
	// GET "" -> 401 Unauthorized
	// GET "NTLM" -> 401 Unauthorized
	// GET "NTLM" -> 200 OK
}

func scheme(auth string) string {
	for i := 0; i < len(auth); i++ {
		if auth[i] == ' ' {
			return auth[:i]
		}
	}
	return auth
}

// A handler that lets in only members of one Active Directory group: on a
// Kerberos login (through Negotiate) the identity lists the group SIDs of
// the client's PAC. NTLM and Digest logins list none.
func ExampleIdentity() {
	const domainAdmins = "S-1-5-21-1004336348-1177238915-682003330-512"
	s := &sspihttp.Server{
		Schemes:   []string{sspihttp.SchemeNegotiate},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: "/etc/http.keytab"}},
	}
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := sspihttp.IdentityFromContext(r.Context())
		if !slices.Contains(id.Groups, domainAdmins) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello %s (%s)", id.Name, id.UserSID)
	})
	srv := &http.Server{Addr: ":8443", Handler: s.Middleware(admin), ConnContext: sspihttp.ConnContext}
	_ = srv // srv.ListenAndServeTLS(certFile, keyFile)
}
