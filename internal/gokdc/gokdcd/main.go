// Command gokdcd runs the test realm of package gokdc in its own process,
// for tests whose package the KDC itself imports (internal/peers starts
// it). Usage:
//
//	gokdcd DIR
//
// It creates the realm's files in DIR, prints the environment to use in
// the form of scripts/testkdc.sh (KRB5_CONFIG=..., TESTKDC_REALM=...,
// TESTKDC_PORT=..., TESTKDC_DIR=...) and then a line "ready", and serves
// until its standard input ends. Each line read on standard input is a
// request, answered by one line, "ok" or "error <message>":
//
//	kinit USER PASSWORD CCACHE    write a TGT for USER to the FILE ccache
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/gosspi/sspi/internal/gokdc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gokdcd DIR")
		os.Exit(2)
	}
	r, err := gokdc.Start(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Stop()
	fmt.Printf("KRB5_CONFIG=%s\nTESTKDC_REALM=%s\nTESTKDC_PORT=%d\nTESTKDC_DIR=%s\nready\n", r.Krb5Conf, r.Realm, r.Port, r.Dir)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "kinit":
			if err := r.Kinit(f[1], f[2], f[3]); err != nil {
				fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				continue
			}
			fmt.Println("ok")
		default:
			fmt.Println("error unknown request")
		}
	}
}
