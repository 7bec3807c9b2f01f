package condor

import (
	"context"
	"errors"
	"testing"
)

// The three answers of HTCondor 23.9's condor_ping -address ADDR -table READ
// seen in integration (workers behind NAT): connected and allowed; connected
// to a startd that could not check the central manager's credentials; no
// connection to a private address without a broker.
func TestReachTellsNoConnectionFromARefusal(t *testing.T) {
	const head = "         Instruction Authentication Encryption Integrity Decision Identity\n"
	for _, tc := range []struct {
		name string
		tool fake
		want error // nil, ErrUnreachable, or errAny
	}{
		{"allowed", fake{stdout: head + "            READ             FS        AES       AES    ALLOW ehos@ehos.test\n"}, nil},
		{"refused after connecting", fake{stdout: head + "            READ           FAIL       FAIL      FAIL     FAIL FAIL  (use -verbose for more info)\n", code: 1}, nil},
		{"no connection", fake{stdout: head + "ERROR: failed to make connection to <10.213.49.4:9618?addrs=10.213.49.4-9618&noUDP&sock=startd_8_10d8>\n", code: 1}, ErrUnreachable},
		{"cannot tell", fake{stdout: "Segmentation fault\n", code: 139}, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := fakeBin(t, map[string]fake{"condor_ping": tc.tool})
			err := (&Client{BinDir: bin}).Reach(context.Background(), "<10.0.0.9:9618?noUDP>")
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("Reach: %v, want nil (a connection was made)", err)
			case tc.want == ErrUnreachable && !errors.Is(err, ErrUnreachable):
				t.Errorf("Reach: %v, want ErrUnreachable", err)
			case tc.want == errAny && (err == nil || errors.Is(err, ErrUnreachable)):
				t.Errorf("Reach: %v, want an error that is not ErrUnreachable", err)
			}
			if got, want := calls(t, bin), bin+"/condor_ping -address <10.0.0.9:9618?noUDP> -table READ\n"; got != want {
				t.Errorf("calls %q, want %q", got, want)
			}
		})
	}
}

var errAny = errors.New("any error")
