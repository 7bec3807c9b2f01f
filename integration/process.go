package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a condor_master started by StartMaster, with its daemons.
type Process struct {
	ConfigFile string
	// Root is the HTCondor root it runs in: a copy of its own for an
	// installed central manager, whose ConfigFile (/etc/condor/condor_config)
	// every other installed one shares. "" for a VM booted by cloud-init.
	Root    string
	Output  string // file holding the master's stdout and stderr
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// StartMaster starts `condor_master -f` with configFile (CONDOR_CONFIG) in the
// trixie root, as the pool user, through scripts/condor-wrap: in its own mount
// and pid namespaces, so when this process dies (even by SIGKILL) the master
// and every daemon it started die too. ctx bounds the start only; stop it
// with Stop.
func StartMaster(ctx context.Context, inst *Install, configFile string) (*Process, error) {
	return StartMasterWith(ctx, inst, MasterOptions{ConfigFile: configFile})
}

// StartMasterAsRoot is StartMaster with the master running as root, as on a
// real worker VM: the daemons run as the root's condor user and switch to
// the job's owner for jobs, so what a job can read is what it could on a VM.
func StartMasterAsRoot(ctx context.Context, inst *Install, configFile string) (*Process, error) {
	return StartMasterWith(ctx, inst, MasterOptions{ConfigFile: configFile, UID: "0"})
}

// StartMasterIn is StartMaster inside the network namespace ns (a test host
// of integration/netns); "" is the machine's own, loopback.
func StartMasterIn(ctx context.Context, inst *Install, configFile, ns string) (*Process, error) {
	return StartMasterWith(ctx, inst, MasterOptions{ConfigFile: configFile, NetNS: ns})
}

// MasterOptions say where and as whom a condor_master runs.
type MasterOptions struct {
	// ConfigFile is CONDOR_CONFIG, as the master sees it.
	ConfigFile string
	// Root is the root it runs in (default: the install's root).
	Root string
	// UID is "uid:gid" to run as, or "0" for root, as an installed
	// HTCondor runs (default: the pool user ehos).
	UID string
	// Output receives its stdout and stderr (default: condor_master.out
	// beside ConfigFile).
	Output string
	// NetNS is the network namespace (a test host of integration/netns)
	// it runs in; "" is the machine's own, loopback.
	NetNS string
}

// StartMasterWith is StartMaster with options.
func StartMasterWith(ctx context.Context, inst *Install, o MasterOptions) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	configFile := o.ConfigFile
	root := o.Root
	if root == "" {
		root = inst.Root
	}
	out := o.Output
	if out == "" {
		out = filepath.Join(filepath.Dir(configFile), "condor_master.out")
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start condor_master: %w", err)
	}
	defer f.Close()
	cmd := exec.Command(inst.Wrap, "condor_master", "-f")
	cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+configFile, "EHOS_CONDOR_ROOT="+root)
	if o.UID != "" {
		cmd.Env = append(cmd.Env, "EHOS_CONDOR_UID="+o.UID)
	}
	if o.NetNS != "" {
		cmd.Env = append(cmd.Env, "EHOS_NETNS="+o.NetNS) // scripts/condor-wrap enters it
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig fires when the thread that forked dies; keep this goroutine on
	// one thread while starting so the signal is tied to the process, which
	// in Go means to a thread that lives as long as the runtime.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("start condor_master (%s): %w", configFile, err)
	}
	p := &Process{ConfigFile: configFile, Root: root, Output: out, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the master has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop shuts the master down fast (SIGQUIT: it stops its daemons), waits, and
// kills the whole pid namespace when that takes longer than ctx allows (20 s
// when ctx has no deadline). Stopping a stopped process is a no-op.
func (p *Process) Stop(ctx context.Context) error {
	if p.Exited() {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
	}
	// The wrapper's unshare blocks SIGTERM/SIGINT; its child, the namespace's
	// init, passes SIGQUIT on to the master.
	init := childPid(p.cmd.Process.Pid)
	if init > 0 {
		syscall.Kill(init, syscall.SIGQUIT)
	} else {
		p.cmd.Process.Signal(syscall.SIGKILL) // --kill-child then sends SIGQUIT to the init
	}
	select {
	case <-p.done:
		killByConfigIn(p.Root, p.ConfigFile)
		return nil
	case <-ctx.Done():
	}
	if init > 0 {
		syscall.Kill(init, syscall.SIGKILL) // the kernel kills the whole namespace
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	killByConfigIn(p.Root, p.ConfigFile)
	return fmt.Errorf("condor_master (%s) did not stop in time: killed", p.ConfigFile)
}

func childPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// killByConfig kills every process whose CONDOR_CONFIG is configFile or lies
// under it (a directory): the last resort for anything that escaped.
func killByConfig(configFile string) int { return killByConfigIn("", configFile) }

// killByConfigIn is killByConfig for the processes whose root directory is
// root ("": any). Without it, stopping one installed central manager killed
// every other one running beside it: their CONDOR_CONFIG is the same path,
// each inside its own copy of the root.
func killByConfigIn(root, configFile string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var rootInfo os.FileInfo
	if root != "" {
		if rootInfo, err = os.Stat(root); err != nil {
			return 0
		}
	}
	n := 0
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			v, ok := bytes.CutPrefix(kv, []byte("CONDOR_CONFIG="))
			if !ok {
				continue
			}
			s := string(v)
			if s == configFile || strings.HasPrefix(s, strings.TrimSuffix(configFile, "/")+"/") {
				if rootInfo != nil {
					if st, err := os.Stat(fmt.Sprintf("/proc/%d/root", pid)); err != nil || !os.SameFile(st, rootInfo) {
						break
					}
				}
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					n++
				}
			}
			break
		}
	}
	return n
}

// Pool and worker directories are /tmp/ehos-it-*; each holds an "owner" file
// naming the test process (pid and start time) that made it.
const dirPrefix = "ehos-it-"

func ownerStamp(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Field 22 (start time) counts from after the command name's ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return fmt.Sprintf("%d %s", pid, f[19])
}

// pidNS names this process's pid namespace; a run in another one is not
// judged by its pid (file owner-pidns beside owner).
func pidNS() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

// cleanLeftovers removes what killed earlier runs left: processes still
// running with a config in a dead run's directory, and the directory.
func cleanLeftovers() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > time.Hour {
					killByConfig(d)
					os.RemoveAll(d)
				}
			}
			continue
		}
		stamp := strings.TrimSpace(string(b))
		f := strings.Fields(stamp)
		if len(f) != 2 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		if pid > 0 && ownerStamp(pid) == stamp {
			continue // its run is alive
		}
		// A run in another pid namespace cannot be judged from here (its pid
		// means something else): leave it unless it is very old.
		ns, _ := os.ReadFile(filepath.Join(d, "owner-pidns"))
		if strings.TrimSpace(string(ns)) != pidNS() {
			if st, err := os.Stat(d); err != nil || time.Since(st.ModTime()) < 6*time.Hour {
				continue
			}
		}
		killByConfig(d)
		os.RemoveAll(d)
	}
}
