package negotiate

import (
	"os"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }
