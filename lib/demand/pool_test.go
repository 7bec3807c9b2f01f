package demand

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

type knobs map[string]string

func (k knobs) ConfigVal(_ context.Context, names ...string) (map[string]string, error) {
	if k == nil {
		return nil, errors.New("condor_config_val: not found")
	}
	out := map[string]string{}
	for _, n := range names {
		if v, ok := k[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

func TestResolvePool(t *testing.T) {
	files := map[string]string{
		"/etc/ehos.yaml":   "pool:\n  name: fromyaml\n",
		"/etc/noname.yaml": "pool:\n  central_manager: 10.0.0.1\n",
		"/etc/bad.yaml":    "pool: [\n",
	}
	read := func(p string) ([]byte, error) {
		if p == "/etc/secret.yaml" {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
		s, ok := files[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
	for _, tc := range []struct {
		name, flag      string
		knobs           knobs
		want, wantSrc   string
		wantErrContains string
	}{
		{name: "flag wins", flag: "demo", knobs: knobs{PoolKnob: "other"}, want: "demo", wantSrc: "--pool"},
		{name: "knob", knobs: knobs{PoolKnob: " demo ", ConfigKnob: "/etc/ehos.yaml"}, want: "demo", wantSrc: "HTCondor knob EHOS_POOL_NAME"},
		{name: "ehos.yaml", knobs: knobs{ConfigKnob: "/etc/ehos.yaml"}, want: "fromyaml", wantSrc: "/etc/ehos.yaml pool.name"},
		{name: "nothing set", knobs: knobs{}, wantErrContains: "neither EHOS_POOL_NAME nor EHOS_CONFIG is set"},
		{name: "yaml missing", knobs: knobs{ConfigKnob: "/etc/missing.yaml"}, wantErrContains: "/etc/missing.yaml (EHOS_CONFIG) open /etc/missing.yaml"},
		{name: "yaml unreadable", knobs: knobs{ConfigKnob: "/etc/secret.yaml"}, wantErrContains: "not readable by this user"},
		{name: "yaml without name", knobs: knobs{ConfigKnob: "/etc/noname.yaml"}, wantErrContains: "has no pool.name"},
		{name: "yaml broken", knobs: knobs{ConfigKnob: "/etc/bad.yaml"}, wantErrContains: "/etc/bad.yaml (EHOS_CONFIG): yaml"},
		{name: "no condor", knobs: nil, wantErrContains: "condor_config_val failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, src, err := ResolvePool(context.Background(), tc.knobs, read, tc.flag)
			if tc.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContains) || !strings.Contains(err.Error(), "--pool") {
					t.Fatalf("err = %v, want it to contain %q and name --pool", err, tc.wantErrContains)
				}
				return
			}
			if err != nil || got != tc.want || src != tc.wantSrc {
				t.Fatalf("ResolvePool = %q, %q, %v; want %q, %q", got, src, err, tc.want, tc.wantSrc)
			}
		})
	}
}
