package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of the peer program name: found in PATH, or else
// in /usr/sbin or /sbin, where Debian puts daemons such as lighttpd. When
// it is missing, Tool skips t (fails it when [Interop] is true) through
// [Require], naming pkg, the Debian package that provides it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	Require(t, name+" (apt-get install -y "+pkg+")", false)
	return ""
}
