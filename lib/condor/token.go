package condor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TokenID is what identifies an IDTOKEN without being the secret: its jti
// claim (condor_token_create sets a random one) and its expiry. Only the
// payload is read; the signature, the secret part, is never touched.
type TokenID struct {
	JTI     string
	Expires time.Time // zero: the token never expires
}

// ParseTokenID reads the jti and exp claims of an IDTOKEN (a JWT). The
// error never quotes the token.
func ParseTokenID(tok string) (TokenID, error) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return TokenID{}, fmt.Errorf("token: %w: not a JWT (%d parts)", ErrParse, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenID{}, fmt.Errorf("token payload: %w: not base64url", ErrParse)
	}
	var claims struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return TokenID{}, fmt.Errorf("token payload: %w: not JSON", ErrParse)
	}
	if claims.JTI == "" {
		return TokenID{}, fmt.Errorf("token payload: %w: no jti claim", ErrParse)
	}
	id := TokenID{JTI: claims.JTI}
	if claims.Exp > 0 {
		id.Expires = time.Unix(claims.Exp, 0).UTC()
	}
	return id, nil
}

// Reconfig asks a daemon to re-read its configuration
// (condor_reconfig -daemon DAEMON, e.g. collector, through the local master).
func (c *Client) Reconfig(ctx context.Context, daemon string) error {
	_, err := c.Run(ctx, "condor_reconfig", "-daemon", daemon)
	return err
}
