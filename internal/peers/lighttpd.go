package peers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lighttpd runs lighttpd (found through [Tool]) in the foreground on a
// free 127.0.0.1 port until the test ends, and returns the port.
//
// Its configuration, dir/lighttpd.conf, holds the common server settings
// (document root dir/www with an index.html whose text is page, error log
// dir/error.log, server.modules set to modules) followed by conf, which
// adds the auth settings. env is lighttpd's environment; nil means this
// process's. When the test fails, lighttpd's output and error log are
// logged.
func Lighttpd(t testing.TB, dir string, env, modules []string, page, conf string) int {
	t.Helper()
	bin := Tool(t, "lighttpd", "lighttpd")
	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	quoted := make([]string, len(modules))
	for i, m := range modules {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	errorLog := filepath.Join(dir, "error.log")
	full := fmt.Sprintf(`server.document-root = %q
server.bind = "127.0.0.1"
server.port = %d
server.errorlog = %q
server.modules = (%s)
mimetype.assign = (".html" => "text/html")
index-file.names = ("index.html")
`, www, port, errorLog, strings.Join(quoted, ", ")) + conf
	confPath := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-D", "-f", confPath)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(errorLog)
			t.Logf("lighttpd output: %s\nerror.log:\n%s", out.String(), log)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return port
		}
		if i == 100 {
			t.Fatalf("lighttpd did not start on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
