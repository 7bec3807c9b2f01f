package cloud

import "testing"

func TestSecurityRuleAllows(t *testing.T) {
	tests := []struct {
		rule  SecurityRule
		proto string
		port  int
		want  bool
	}{
		{SecurityRule{Direction: "ingress", Protocol: "tcp", PortMin: 9618, PortMax: 9618}, "tcp", 9618, true},
		{SecurityRule{Direction: "ingress", Protocol: "tcp", PortMin: 9618, PortMax: 9618}, "udp", 9618, false},
		{SecurityRule{Direction: "ingress", Protocol: "tcp", PortMin: 9000, PortMax: 9700}, "tcp", 9618, true},
		{SecurityRule{Direction: "ingress", Protocol: "tcp", PortMin: 22, PortMax: 22}, "tcp", 9618, false},
		{SecurityRule{Direction: "ingress"}, "udp", 9618, true}, // any protocol, any port
		{SecurityRule{Direction: "egress"}, "tcp", 9618, false},
	}
	for _, tc := range tests {
		if got := tc.rule.Allows(tc.proto, tc.port); got != tc.want {
			t.Errorf("%+v.Allows(%s, %d) = %v, want %v", tc.rule, tc.proto, tc.port, got, tc.want)
		}
	}
}
