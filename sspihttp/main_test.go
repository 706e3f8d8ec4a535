package sspihttp

import (
	"os"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

func TestMain(m *testing.M) {
	if conf := os.Getenv(benchServerEnv); conf != "" {
		// Started again by BenchmarkHandshakeLoadVsApache as its server.
		os.Exit(benchServerMain(conf))
	}
	os.Exit(peers.RunTests(m))
}
