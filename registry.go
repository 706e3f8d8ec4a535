package sspi

import (
	"strings"
	"sync"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Registry is a set of security packages together with the handle tables
// of the flat API: the CredHandle and CtxtHandle values it hands out are
// meaningful only to the same Registry.
//
// The package-level flat functions and [AcquireCredentials] use the
// default Registry, which holds the built-in packages (Negotiate, Kerberos,
// NTLM, WDigest, Schannel). A private Registry made with [NewRegistry]
// starts empty; tests and applications that want a controlled set of
// packages use one. A Registry is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	pkgs   []registered          // guarded by mu, in registration order
	byName map[string]registered // guarded by mu, keyed by lower-case name

	creds handleTable[*Credentials]
	ctxts handleTable[*Context]
}

// registered is a package and the Info it reported when registered.
type registered struct {
	pkg  packages.Package
	info packages.Info
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]registered)}
}

// Register adds p to r. EnumerateSecurityPackages lists packages in the
// order they were registered. Names compare case-insensitively, as
// Windows package names do. Register panics if p is nil, has an empty
// name, or has the name of a package already registered: these are
// programming errors.
func (r *Registry) Register(p packages.Package) {
	if p == nil {
		panic("sspi: Register of a nil package")
	}
	info := p.Info()
	if info.Name == "" {
		panic("sspi: Register of a package with an empty name")
	}
	key := strings.ToLower(info.Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byName[key]; dup {
		panic("sspi: Register called twice for package " + info.Name)
	}
	reg := registered{pkg: p, info: info}
	r.pkgs = append(r.pkgs, reg)
	r.byName[key] = reg
}

// Packages returns the Info of every package in r, in enumeration order.
func (r *Registry) Packages() []packages.Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	infos := make([]packages.Info, len(r.pkgs))
	for i, reg := range r.pkgs {
		infos[i] = reg.info
	}
	return infos
}

// Package returns the package registered under name (compared
// case-insensitively), or SEC_E_SECPKG_NOT_FOUND.
func (r *Registry) Package(name string) (packages.Package, error) {
	reg, err := r.lookup(name)
	return reg.pkg, err
}

func (r *Registry) lookup(name string) (registered, error) {
	r.mu.RLock()
	reg, ok := r.byName[strings.ToLower(name)]
	r.mu.RUnlock()
	if !ok {
		return registered{}, status.SEC_E_SECPKG_NOT_FOUND
	}
	return reg, nil
}

// defaultRegistry is built on first use with the built-in packages.
var defaultRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	for _, p := range builtinPackages() {
		r.Register(p)
	}
	return r
})

// DefaultRegistry returns the Registry that the package-level functions
// use. It holds the built-in packages and those added with
// [RegisterPackage].
func DefaultRegistry() *Registry { return defaultRegistry() }

// RegisterPackage adds p to the default Registry. It panics if a package of
// the same name is already registered (see [Registry.Register]).
func RegisterPackage(p packages.Package) { defaultRegistry().Register(p) }
