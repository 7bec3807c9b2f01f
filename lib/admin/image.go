package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/rs/zerolog"
)

// ReadyMarker and FailedMarker are what cloudinit/base.yaml prints on the
// console when the base image is ready, or when it is not.
const (
	ReadyMarker  = "EHOS-BASE-READY"
	FailedMarker = "EHOS-BASE-FAILED"
)

// ImageCloud is what an image build needs of a cloud (lib/openstack.Cloud).
type ImageCloud interface {
	Create(ctx context.Context, region string, r cloud.CreateRequest) (cloud.VM, error)
	Get(ctx context.Context, region, id string) (cloud.VM, error)
	ConsoleLog(ctx context.Context, region, id string, lines int) (string, error)
	Stop(ctx context.Context, region, id string) error
	CreateImage(ctx context.Context, region, serverID, name string, metadata map[string]string) (string, error)
	WaitImage(ctx context.Context, region, id string, poll time.Duration) (cloud.Image, error)
	Delete(ctx context.Context, region, id string) error
}

// ImageBuild describes one base image build in one region.
type ImageBuild struct {
	Region    string
	Boot      cloud.CreateRequest // Name, Flavor, Image (the stock image), Network, KeyPair, SecurityGroups, UserData
	ImageName string
	Timeout   time.Duration // whole build; default 30m
	Poll      time.Duration // default 5s
	Log       zerolog.Logger
}

// BuildImage boots the build VM, waits for ReadyMarker in its console,
// stops and snapshots it, waits for the image and returns its id. The VM is
// deleted however the build ends.
func BuildImage(ctx context.Context, c ImageCloud, b ImageBuild) (imageID string, err error) {
	if b.Timeout <= 0 {
		b.Timeout = 30 * time.Minute
	}
	if b.Poll <= 0 {
		b.Poll = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	if b.Boot.Metadata == nil {
		b.Boot.Metadata = map[string]string{}
	}
	b.Boot.Metadata["ehos_role"] = "image-build" // no ehos_pool: no provisioner touches it
	vm, err := c.Create(ctx, b.Region, b.Boot)
	if err != nil {
		return "", fmt.Errorf("boot the build VM: %w", err)
	}
	log := b.Log.With().Str("vm", vm.ID).Str("region", b.Region).Logger()
	log.Info().Str("name", b.Boot.Name).Msg("build VM created")
	defer func() {
		// The build's context may be over: delete with a fresh one.
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if derr := c.Delete(dctx, b.Region, vm.ID); derr != nil && !errors.Is(derr, cloud.ErrNotFound) {
			err = errors.Join(err, fmt.Errorf("delete the build VM %s: %w (delete it by hand)", vm.ID, derr))
			return
		}
		log.Info().Msg("build VM deleted")
	}()

	// Wait for the marker.
	for {
		v, gerr := c.Get(ctx, b.Region, vm.ID)
		if gerr == nil && v.Status == cloud.StatusError {
			return "", fmt.Errorf("build VM %s went to ERROR: %s", vm.ID, v.Fault)
		}
		if gerr == nil && v.Status == cloud.StatusActive {
			out, cerr := c.ConsoleLog(ctx, b.Region, vm.ID, 0)
			if cerr == nil {
				if i := strings.Index(out, FailedMarker); i >= 0 {
					return "", fmt.Errorf("build VM %s: %s", vm.ID, firstLine(out[i:]))
				}
				if strings.Contains(out, ReadyMarker) {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("build VM %s: no %s in its console log within %s: %w (see `openstack console log show %s`)", vm.ID, ReadyMarker, b.Timeout, ctx.Err(), vm.ID)
		case <-time.After(b.Poll):
		}
	}
	log.Info().Msg("base image ready; stopping")

	if err := c.Stop(ctx, b.Region, vm.ID); err != nil {
		return "", err
	}
	for {
		v, gerr := c.Get(ctx, b.Region, vm.ID)
		if gerr == nil && v.Status == cloud.StatusShutoff {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("build VM %s did not stop: %w", vm.ID, ctx.Err())
		case <-time.After(b.Poll):
		}
	}
	id, err := c.CreateImage(ctx, b.Region, vm.ID, b.ImageName, map[string]string{"ehos_role": "base"})
	if err != nil {
		return "", err
	}
	log.Info().Str("image", id).Msg("snapshot requested")
	img, err := c.WaitImage(ctx, b.Region, id, b.Poll)
	if err != nil {
		return id, fmt.Errorf("image %s: %w", id, err)
	}
	return img.ID, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
