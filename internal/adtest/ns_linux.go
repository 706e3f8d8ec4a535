package adtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// parentDeathAttr kills unshare (and through --kill-child the namespace)
// if the test binary that started it dies.
func parentDeathAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// groupAttr starts a process in its own process group, so that stop can
// signal samba and all its children at once.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM, or SIGKILL when kill is true, to the process
// group of pid.
func signalGroup(pid int, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-pid, sig)
}

// hostsFile maps the domain's names inside the namespace; nothing else
// resolves.
func hostsFile() string {
	return fmt.Sprintf("127.0.0.1\tlocalhost %s\n%s\t%s %s %s\n::1\tlocalhost\n", WebHost, DCAddr, DCHost, DCHostName, DNSDomain)
}

// namespaceIDs returns the identities of this process's network and
// mount namespaces ("net:[4026531840] mnt:[4026531841]").
func namespaceIDs() string {
	var ids []string
	for _, ns := range []string{"net", "mnt"} {
		id, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return ""
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " ")
}

// enterNamespace sets up the namespace Main created: loopback up with
// 127.0.0.2, private /etc/hosts and /etc/resolv.conf (nameserver
// 127.0.0.1, where nothing listens), and the host name dc1. It refuses to
// run anywhere but as PID 1 of a PID namespace, in network and mount
// namespaces other than those of the test binary that started it (their
// identities are in outerNS), where no interface but loopback is up, so
// that it can never change the host.
func enterNamespace(t tools, dir, outerNS string) error {
	if os.Getpid() != 1 {
		return errors.New("not PID 1 of a new PID namespace; refusing to change the mounts or network")
	}
	outer := strings.Fields(outerNS)
	inner := strings.Fields(namespaceIDs())
	if len(outer) != 2 || len(inner) != 2 || outer[0] == inner[0] || outer[1] == inner[1] {
		return fmt.Errorf("not in new network and mount namespaces (outer %q, here %q); refusing to change them", outerNS, namespaceIDs())
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && i.Flags&net.FlagUp != 0 {
			return fmt.Errorf("interface %s is up in the network namespace: refusing to set it up", i.Name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", DCAddr + "/8", "dev", "lo"},
	} {
		if out, err := exec.CommandContext(ctx, t.ip, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"/etc/hosts":       hostsFile(),
		"/etc/resolv.conf": "# gosspi adtest: no DNS server listens here\nnameserver 127.0.0.1\n",
	}
	for target, content := range files {
		src := filepath.Join(etc, filepath.Base(target))
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return err
		}
		if err := bindMount(src, target); err != nil {
			return err
		}
	}
	if err := syscall.Sethostname([]byte(DCHostName)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	return nil
}

// bindMount mounts src over target, which must exist (a file).
func bindMount(src, target string) error {
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s on %s: %w", src, target, err)
	}
	return nil
}

// killNamespace kills every other process of the PID namespace when this
// process is its PID 1: whatever samba or a test left running.
func killNamespace() {
	if os.Getpid() != 1 {
		return
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
