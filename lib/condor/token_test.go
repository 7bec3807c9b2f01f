package condor

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","kid":"POOL"}`)) + "." + enc([]byte(payload)) + ".c2VjcmV0LXNpZ25hdHVyZQ"
}

func TestParseTokenID(t *testing.T) {
	id, err := ParseTokenID(jwt(`{"exp":1800000000,"iat":1700000000,"iss":"cm","jti":"e84cae967c1df895aaa6f80b5146f339","scope":"condor:/READ","sub":"ehos-worker@cm"}`) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if id.JTI != "e84cae967c1df895aaa6f80b5146f339" || !id.Expires.Equal(time.Unix(1800000000, 0)) {
		t.Errorf("got %+v", id)
	}
	if id, err := ParseTokenID(jwt(`{"jti":"abc"}`)); err != nil || !id.Expires.IsZero() {
		t.Errorf("token without exp: %+v %v", id, err)
	}
	for name, tok := range map[string]string{
		"no jti":      jwt(`{"exp":1}`),
		"not a JWT":   "c2VjcmV0LXNpZ25hdHVyZQ",
		"not base64":  "a.!!!.c2VjcmV0LXNpZ25hdHVyZQ",
		"not JSON":    "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c2VjcmV0LXNpZ25hdHVyZQ",
		"jti not str": jwt(`{"jti":5}`),
	} {
		_, err := ParseTokenID(tok)
		if !errors.Is(err, ErrParse) {
			t.Errorf("%s: error %v, want ErrParse", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0LXNpZ25hdHVyZQ") {
			t.Errorf("%s: the error quotes the token's signature: %v", name, err)
		}
	}
}
