package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/gosspi/sspi/kdc"
)

const kdcUsage = `Usage: sspi kdc [options]

Run a Kerberos KDC for tests and demos on 127.0.0.1 (UDP and TCP), with
the users and services given, and write a krb5.conf and a keytab per
service in a directory. It prints the paths and the address, then serves
until interrupted (Ctrl-C). Tickets carry PACs as Active Directory
issues them.

Options:
  -realm name     the realm (default GOSSPI.TEST)
  -user name:password
                  a user (repeatable)
  -service spn    a service principal with random keys, e.g.
                  HTTP/localhost (repeatable); its keytab is written as
                  <dir>/<spn with / replaced by _>.keytab
  -dir path       where to write krb5.conf and the keytabs (default: a
                  new temporary directory)
  -listen addr    where to listen (default 127.0.0.1:0: a free port)
  -rc4            also allow rc4-hmac (off by default, as on modern
                  Windows and MIT)
  -config file    a JSON file with the realm instead of the flags above:
                  {"realm": "EXAMPLE.TEST", "rc4": false,
                   "realms": ["OTHER.TEST"],
                   "users": [{"name": "alice", "password": "...",
                              "rid": 1105, "groups": [512],
                              "extra_sids": ["S-1-18-1"]}],
                   "services": [{"spn": "HTTP/web.example.test",
                                 "allowed_to_delegate_to": ["HTTP/db.example.test"],
                                 "trusted_to_auth_for_delegation": true}]}
                  More realms (trusting each other) come in "realms"; users
                  and services of one of them are named name@REALM.

Example:
  sspi kdc -user alice:alice-pw -service HTTP/localhost -dir /tmp/realm &
  KRB5_CONFIG=/tmp/realm/krb5.conf kinit alice
`

var kdcCommand = &command{
	name:    "kdc",
	summary: "run a Kerberos KDC for tests on 127.0.0.1",
	usage:   kdcUsage,
	run:     runKDC,
}

// kdcFile is the JSON configuration of sspi kdc -config.
type kdcFile struct {
	Realm    string       `json:"realm"`
	Realms   []string     `json:"realms"`
	RC4      bool         `json:"rc4"`
	Listen   string       `json:"listen"`
	Dir      string       `json:"dir"`
	Users    []kdcUser    `json:"users"`
	Services []kdcService `json:"services"`
}

type kdcService struct {
	SPN                        string   `json:"spn"`
	AllowedToDelegateTo        []string `json:"allowed_to_delegate_to"`
	TrustedToAuthForDelegation bool     `json:"trusted_to_auth_for_delegation"`
}

type kdcUser struct {
	Name      string   `json:"name"`
	Password  string   `json:"password"`
	RID       uint32   `json:"rid"`
	Groups    []uint32 `json:"groups"`
	ExtraSIDs []string `json:"extra_sids"`
	Disabled  bool     `json:"disabled"`
}

// maxKDCConfig caps the -config file read.
const maxKDCConfig = 1 << 20

// kdcStop, when not nil, replaces the interrupt signal (tests).
var kdcStop <-chan struct{}

func runKDC(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kdc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kdcUsage) }
	var users, services multiFlag
	realm := fs.String("realm", "GOSSPI.TEST", "")
	dir := fs.String("dir", "", "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	rc4 := fs.Bool("rc4", false, "")
	configPath := fs.String("config", "", "")
	fs.Var(&users, "user", "")
	fs.Var(&services, "service", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sspi kdc: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	var file kdcFile
	if *configPath != "" {
		f, err := os.Open(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitFailure
		}
		dec := json.NewDecoder(io.LimitReader(f, maxKDCConfig))
		dec.DisallowUnknownFields()
		err = dec.Decode(&file)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %s: %v\n", *configPath, err)
			return exitUsage
		}
	} else {
		file.Realm, file.RC4, file.Listen, file.Dir = *realm, *rc4, *listen, *dir
		for _, u := range users {
			name, pw, ok := strings.Cut(u, ":")
			if !ok || name == "" {
				fmt.Fprintf(stderr, "sspi kdc: -user wants name:password, got %q\n", name)
				return exitUsage
			}
			file.Users = append(file.Users, kdcUser{Name: name, Password: pw})
		}
		for _, s := range services {
			file.Services = append(file.Services, kdcService{SPN: s})
		}
	}
	if file.Realm == "" {
		file.Realm = "GOSSPI.TEST"
	}
	if file.Listen == "" {
		file.Listen = "127.0.0.1:0"
	}
	cfg := kdc.Config{Realm: file.Realm}
	if file.RC4 {
		cfg.Enctypes = append(append([]int32(nil), kdc.DefaultEnctypes...), kdc.RC4HMAC)
	}
	k, err := kdc.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
		return exitUsage
	}
	defer k.Close()
	for _, r := range file.Realms {
		if err := k.AddRealm(r); err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitUsage
		}
	}
	for _, u := range file.Users {
		if err := k.AddUser(u.Name, u.Password, kdc.User{RID: u.RID, GroupRIDs: u.Groups, ExtraSIDs: u.ExtraSIDs, Disabled: u.Disabled}); err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitUsage
		}
	}
	for _, s := range file.Services {
		if _, err := k.AddService(s.SPN, kdc.Service{AllowedToDelegateTo: s.AllowedToDelegateTo, TrustedToAuthForDelegation: s.TrustedToAuthForDelegation}); err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitUsage
		}
	}
	if file.Dir == "" {
		if file.Dir, err = os.MkdirTemp("", "sspi-kdc-"); err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitFailure
		}
	} else if err := os.MkdirAll(file.Dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
		return exitFailure
	}
	addr, err := k.Listen(file.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
		return exitFailure
	}
	conf := filepath.Join(file.Dir, "krb5.conf")
	if err := k.WriteKrb5Conf(conf); err != nil {
		fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "realm %s\nkdc udp %s tcp %s\nkrb5.conf %s\n", k.Realm(), addr.UDP, addr.TCP, conf)
	for _, s := range file.Services {
		path := filepath.Join(file.Dir, strings.NewReplacer("/", "_", "@", "_").Replace(s.SPN)+".keytab")
		if err := k.WriteKeytab(path, s.SPN); err != nil {
			fmt.Fprintf(stderr, "sspi kdc: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "keytab %s %s\n", s.SPN, path)
	}
	for _, u := range file.Users {
		name := u.Name
		if !strings.Contains(name, "@") {
			name += "@" + k.Realm()
		}
		fmt.Fprintf(stdout, "user %s\n", name)
	}
	fmt.Fprintf(stdout, "export KRB5_CONFIG=%s\n", conf)
	stop := kdcStop
	if stop == nil {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		done := make(chan struct{})
		go func() { <-sig; close(done) }()
		stop = done
	}
	<-stop
	return exitOK
}
