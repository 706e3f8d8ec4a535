package sspihttp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// The load benchmark runs two servers as processes of their own, side by
// side on this machine: this package's Server (the test binary started
// again with benchServerEnv set, serving through Server.HTTPServer) and
// Apache httpd with mod_auth_gssapi (MIT GSS-API for Kerberos,
// gss-ntlmssp for NTLM), and drives each with the same client: 200
// goroutines, each handshake on a new connection. It measures handshakes
// per second, the 99th percentile latency, and each server's CPU time
// (utime+stime of its processes in /proc) per handshake.

const (
	benchServerEnv = "SSPIHTTP_BENCH_SERVER" // the server's config, for the test binary started again
	loadClients    = 200
)

// benchServerMain serves this package's Server (Negotiate over Kerberos
// and NTLM) on 127.0.0.1, prints its address and serves until stdin
// closes. Its configuration is "keytab|ntlm-user-password".
func benchServerMain(conf string) int {
	keytab, pass, _ := strings.Cut(conf, "|")
	s := &Server{Schemes: []string{SchemeNegotiate},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: keytab}, NTLM: ntlm.Users{testUser: pass}},
		ErrorLog:  nullLogger(), MaxPendingPerAddr: -1}
	srv := s.HTTPServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if path := os.Getenv("SSPIHTTP_BENCH_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Println(ln.Addr().String())
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startGoServer starts the test binary as the Go server and returns its
// address and pid.
func startGoServer(b *testing.B, keytab string, env []string) (string, int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, benchServerEnv+"="+keytab+"|"+testPass)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("Go server: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// startApache runs Apache httpd (event MPM) with mod_auth_gssapi on a
// free 127.0.0.1 port: /krb/ accepts Kerberos, /ntlm/ NTLM (gss-ntlmssp,
// connection-bound), both through Negotiate. It returns the address and
// the pid of the parent process.
func startApache(b testing.TB, k *peers.KDC) (string, int) {
	const mods = "/usr/lib/apache2/modules/"
	_, errMod := os.Stat(mods + "mod_auth_gssapi.so")
	_, errBin := exec.LookPath("apache2")
	if errBin != nil {
		_, errBin = os.Stat("/usr/sbin/apache2")
	}
	peers.Require(b, "Apache httpd with mod_auth_gssapi (apt-get install -y apache2 libapache2-mod-auth-gssapi)",
		errMod == nil && errBin == nil && peers.HaveGSSNTLMSSP())
	dir, err := os.MkdirTemp("", "sspihttp-apache-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	// Apache's children run as www-data and read these test-only files.
	os.Chmod(dir, 0o755)
	keytab := filepath.Join(dir, "http.keytab")
	kt, err := os.ReadFile(k.ServiceKeytab)
	if err != nil {
		b.Fatal(err)
	}
	users := filepath.Join(dir, "ntlm_users")
	www := filepath.Join(dir, "www")
	for _, d := range []string{www, filepath.Join(www, "krb"), filepath.Join(www, "ntlm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "index.html"), []byte("ok\n"), 0o644)
	}
	os.WriteFile(keytab, kt, 0o644)
	krb5conf := filepath.Join(dir, "krb5.conf")
	kc, err := os.ReadFile(k.Krb5Conf)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(krb5conf, kc, 0o644)
	// MIT's replay cache, written by the children.
	rcache := filepath.Join(dir, "rcache")
	os.Mkdir(rcache, 0o1777)
	os.Chmod(rcache, 0o1777)
	os.WriteFile(users, []byte(testDomain+":"+testUser+":"+testPass+"\n"), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`ServerRoot %[1]q
ServerName localhost
Listen %[2]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module %[3]smod_mpm_event.so
LoadModule authn_core_module %[3]smod_authn_core.so
LoadModule authz_core_module %[3]smod_authz_core.so
LoadModule authz_user_module %[3]smod_authz_user.so
LoadModule dir_module %[3]smod_dir.so
LoadModule auth_gssapi_module %[3]smod_auth_gssapi.so
StartServers 4
ServerLimit 8
ThreadsPerChild 64
MaxRequestWorkers 512
MinSpareThreads 256
MaxSpareThreads 512
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot %[4]q
DirectoryIndex index.html
<Location /krb/>
	AuthType GSSAPI
	AuthName "krb"
	GssapiCredStore keytab:%[5]s
	GssapiAllowedMech krb5
	GssapiBasicAuth Off
	Require valid-user
</Location>
<Location /ntlm/>
	AuthType GSSAPI
	AuthName "ntlm"
	GssapiAllowedMech ntlmssp
	GssapiConnectionBound On
	GssapiBasicAuth Off
	Require valid-user
</Location>
`, dir, addr, mods, www, keytab)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/apache2", "-f", confPath, "-DFOREGROUND")
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+krb5conf, "KRB5RCACHEDIR="+rcache, "NTLM_USER_FILE="+users)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Logf("apache output: %s\nerror.log:\n%s", out.String(), log)
		}
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("apache did not start on %s: %s %s", addr, out.String(), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, cmd.Process.Pid
}

// cpuTicks returns the CPU time (utime+stime, in clock ticks) of pid and
// of its child processes.
func cpuTicks(pid int) int64 {
	var total int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if p != pid && ppid != pid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return total
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// loadResult is one load run.
type loadResult struct {
	handshakes int
	failures   int
	elapsed    time.Duration
	p99        time.Duration
	cpu        time.Duration // the server's
}

func (r loadResult) perSecond() float64 { return float64(r.handshakes) / r.elapsed.Seconds() }

func (r loadResult) cpuPerHandshake() time.Duration {
	if r.handshakes == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.handshakes)
}

// runLoad runs loadClients clients against url for d, each request a new
// connection and a full handshake through tr, and measures the server
// process pid.
func runLoad(b *testing.B, tr *Transport, url string, pid int, d time.Duration) loadResult {
	var (
		mu        sync.Mutex
		lat       []time.Duration
		handshake atomic.Int64
		failures  atomic.Int64
		firstErr  atomic.Value
	)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cpu0 := cpuTicks(pid)
	start := time.Now()
	var wg sync.WaitGroup
	for range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
				handshake.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTicks(pid) - cpu0
	if f := failures.Load(); f > 0 {
		b.Logf("%s: %d failed requests, first: %v", url, f, firstErr.Load())
	}
	slices.Sort(lat)
	r := loadResult{handshakes: int(handshake.Load()), failures: int(failures.Load()), elapsed: elapsed,
		cpu: time.Duration(cpu) * time.Second / clockTicks}
	if len(lat) > 0 {
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}

// BenchmarkHandshakeLoadVsApache measures Negotiate handshakes (Kerberos,
// and NTLM inside SPNEGO) per second and their p99 latency at 200
// concurrent clients, each handshake on a new connection, against this
// package's Server and against Apache with mod_auth_gssapi, side by side
// in one run, with each server's CPU time per handshake. It needs the
// MIT test KDC, Apache with mod_auth_gssapi and gss-ntlmssp; run it with
//
//	go test ./sspihttp -run '^$' -bench HandshakeLoadVsApache -benchtime 1x
//
// SSPIHTTP_LOAD_SECONDS sets the length of each run (default 5);
// SSPIHTTP_LOAD_SCHEMES=NTLM (or Kerberos) runs one scheme only;
// SSPIHTTP_BENCH_CPUPROFILE=file writes the Go server's CPU profile.
func BenchmarkHandshakeLoadVsApache(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads server CPU times from /proc")
	}
	k := peers.TestKDC(b)
	apacheAddr, apachePid := startApache(b, k)
	goAddr, goPid := startGoServer(b, k.ServiceKeytab, k.Env(""))
	d := 5 * time.Second
	if s, err := strconv.Atoi(os.Getenv("SSPIHTTP_LOAD_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	transport := func(kdc *peers.KDC) *Transport {
		base := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: false}
		creds := testIdentity
		if kdc != nil {
			creds = alice
		}
		return &Transport{Registry: testRegistry(b, kdc), Schemes: []string{SchemeNegotiate}, Base: base,
			Credentials: creds, SPN: func(string) string { return "HTTP/localhost" }}
	}
	type target struct {
		name, url string
		pid       int
	}
	schemes := []struct {
		name    string
		tr      *Transport
		targets []target
	}{
		{"Kerberos", transport(k), []target{
			{"gosspi", "http://" + goAddr + "/", goPid}, {"apache", "http://" + apacheAddr + "/krb/", apachePid}}},
		{"NTLM", transport(nil), []target{
			{"gosspi", "http://" + goAddr + "/", goPid}, {"apache", "http://" + apacheAddr + "/ntlm/", apachePid}}},
	}
	for range b.N {
		for _, sc := range schemes {
			if only := os.Getenv("SSPIHTTP_LOAD_SCHEMES"); only != "" && !strings.Contains(only, sc.name) {
				continue
			}
			var res [2]loadResult
			for i, tg := range sc.targets {
				// A short warm-up (tickets, worker processes), then the run.
				runLoad(b, sc.tr, tg.url, tg.pid, d/5)
				res[i] = runLoad(b, sc.tr, tg.url, tg.pid, d)
				r := res[i]
				if r.handshakes == 0 {
					b.Fatalf("%s %s: no handshake succeeded (%d failures)", sc.name, tg.name, r.failures)
				}
				b.Logf("%s %s: %d handshakes in %v: %.0f/s, p99 %v, server CPU %v (%v per handshake), %d failures",
					sc.name, tg.name, r.handshakes, r.elapsed.Round(time.Millisecond), r.perSecond(), r.p99.Round(time.Microsecond),
					r.cpu, r.cpuPerHandshake(), r.failures)
				b.ReportMetric(r.perSecond(), sc.name+"-"+tg.name+"-hs/s")
				b.ReportMetric(float64(r.p99.Microseconds())/1000, sc.name+"-"+tg.name+"-p99-ms")
			}
			g, a := res[0], res[1]
			cpuRatio := float64(g.cpuPerHandshake()) / float64(a.cpuPerHandshake())
			b.ReportMetric(g.perSecond()/a.perSecond(), sc.name+"-hs/s-ratio")
			b.ReportMetric(cpuRatio, sc.name+"-cpu/hs-ratio")
			b.ReportMetric(1/cpuRatio, sc.name+"-hs/core-ratio")
			b.Logf("%s: gosspi/apache handshakes per second %.2f×, p99 %.2f×, server CPU per handshake %.2f× (handshakes per CPU-second %.2f×)",
				sc.name, g.perSecond()/a.perSecond(), float64(g.p99)/float64(a.p99), cpuRatio, 1/cpuRatio)
		}
	}
}
