// Package podman runs containers for tests with podman from the
// distribution's packages, without touching the machine's own container
// configuration or network: every file podman reads or writes (its
// configuration, image storage, run state, events, temporary files) lives in
// a folder of the caller's, containers share the host's network namespace
// (no bridge, no firewall rules), and images come only from OCI layouts on
// disk: the signature policy rejects every other transport, so nothing can
// be pulled from a registry.
//
// Two things podman 4.3 as root writes outside that folder, whatever its
// configuration says: the blob-info cache of image copies
// (/var/lib/containers/cache) and the network run folder
// (/run/containers/networks, empty with host networking). Close removes
// them when they did not exist before New.
//
// It is part of the test rig; nothing that ships imports it.
package podman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Runner is podman confined to one folder.
type Runner struct {
	dir    string
	env    []string
	policy string

	// outside are the folders podman writes outside dir that did not
	// exist before New.
	outside []string

	mu         sync.Mutex
	containers map[string]bool
	closed     bool
}

// outsideDirs are what podman creates outside its configured folders.
var outsideDirs = []string{"/var/lib/containers", "/run/containers"}

// New writes podman's configuration into dir (created if missing) and
// returns a Runner that uses only it. Close removes what it started.
func New(dir string) (*Runner, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, errors.New("podman not found: install Debian's podman and runc packages (.ci/run does)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("podman containers with host network and cgroupfs need root here")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &Runner{dir: dir, containers: map[string]bool{}, policy: filepath.Join(dir, "policy.json")}
	for _, d := range outsideDirs {
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			r.outside = append(r.outside, d)
		}
	}
	for _, d := range []string{"storage", "run", "tmp", "libpod", "volumes", "networks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"containers.conf": containersConf(dir),
		"storage.conf":    storageConf(dir),
		"registries.conf": "unqualified-search-registries = []\n",
		"policy.json":     policyJSON,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	r.env = append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
	)
	return r, nil
}

// containersConf is this machine's working set (checked facts): runc, as
// crun refuses the machine's cgroup layout; cgroupfs and file events, as
// there is no systemd; the host's network namespace, as the default bridge
// would add interfaces and firewall rules to the machine; ulimits a root
// without CAP_SYS_RESOURCE can set; private IPC, so no /dev/shm mount is
// made outside the container.
func containersConf(dir string) string {
	return fmt.Sprintf(`[containers]
netns = "host"
ipcns = "private"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %[1]q
tmp_dir = %[2]q
static_dir = %[3]q
volume_path = %[4]q

[network]
network_config_dir = %[5]q
`, filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"), filepath.Join(dir, "libpod"),
		filepath.Join(dir, "volumes"), filepath.Join(dir, "networks"))
}

// storageConf uses vfs: plain folders, no overlay mounts left on the
// machine if a test dies.
func storageConf(dir string) string {
	return fmt.Sprintf("[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(dir, "run"), filepath.Join(dir, "storage"))
}

// policyJSON accepts images from OCI layouts on disk and nothing else.
const policyJSON = `{
  "default": [{"type": "reject"}],
  "transports": {
    "oci": {"": [{"type": "insecureAcceptAnything"}]},
    "containers-storage": {"": [{"type": "insecureAcceptAnything"}]}
  }
}
`

// Dir is the folder podman is confined to.
func (r *Runner) Dir() string { return r.dir }

// Leftovers lists what of the runner's is still on the machine after
// Close: mounts under its folder, the folder, and podman's folders outside
// it that it created.
func (r *Runner) Leftovers() []string {
	var left []string
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(b), " "+r.dir+"/") {
		left = append(left, "mounts under "+r.dir)
	}
	for _, d := range append([]string{r.dir}, r.outside...) {
		if _, err := os.Lstat(d); err == nil {
			left = append(left, d)
		}
	}
	return left
}

// Command is podman with the runner's configuration.
func (r *Runner) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = r.env
	return cmd
}

func (r *Runner) output(ctx context.Context, args ...string) (string, error) {
	cmd := r.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Load copies the image tagged tag in the OCI layout at dir into the
// runner's storage (the platform of this machine, from a multi-platform
// index) and returns its image ID.
func (r *Runner) Load(ctx context.Context, dir, tag string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "index.json")); err != nil {
		return "", fmt.Errorf("no OCI layout at %s: %w", abs, err)
	}
	// podman 4.3 names the stored image localhost/<layout path>, and
	// refuses paths that are not valid image names (capitals, a leading
	// underscore): pull through a link whose path is one.
	linkDir, err := os.MkdirTemp("/tmp", "fedgen-oci-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(linkDir)
	link := filepath.Join(linkDir, "layout")
	if err := os.Symlink(abs, link); err != nil {
		return "", err
	}
	// --quiet prints only the stored image's ID.
	out, err := r.output(ctx, "pull", "--quiet", "--signature-policy", r.policy, "oci:"+link+":"+tag)
	if err != nil {
		return "", err
	}
	if ids := strings.Fields(out); len(ids) == 1 && len(ids[0]) == 64 {
		return ids[0], nil
	}
	return "", fmt.Errorf("podman pull oci:%s:%s printed %q, not an image ID", abs, tag, out)
}

// Container says how to run one container. The defaults are the hardening
// a Pod of the chart gets: the host's network namespace, a read-only root
// filesystem without tmpfs mounts added, every capability dropped, no new
// privileges.
type Container struct {
	// Name names the container (unique per runner).
	Name string
	// Image is an image ID or name in the runner's storage.
	Image string
	// User is "uid:gid"; the image's own when empty.
	User string
	// Args follow the image's entrypoint.
	Args []string
	// ReadOnlyFiles are host files mounted read-only at the same path
	// (e.g. kubeconfigs named in Args). Each is copied first into the
	// runner's folder, readable by User only, so the host file's owner
	// and mode do not matter.
	ReadOnlyFiles []string
}

// RunCommand returns `podman run` for c in the foreground: it exits with
// the container, and SIGTERM sent to it reaches the container's process
// (podman proxies signals), as a kubelet's would.
func (r *Runner) RunCommand(ctx context.Context, c Container) (*exec.Cmd, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("podman runner closed")
	}
	if c.Name == "" || r.containers[c.Name] {
		return nil, fmt.Errorf("container name %q empty or used", c.Name)
	}
	args := []string{"run", "--rm", "--name", c.Name, "--pull", "never",
		"--network", "host", "--read-only", "--read-only-tmpfs=false",
		"--cap-drop", "all", "--security-opt", "no-new-privileges",
		"--sig-proxy=true"}
	if c.User != "" {
		args = append(args, "--user", c.User)
	}
	for i, f := range c.ReadOnlyFiles {
		copied, err := r.copyForUser(f, c.Name, i, c.User)
		if err != nil {
			return nil, err
		}
		args = append(args, "--volume", copied+":"+f+":ro")
	}
	args = append(append(args, c.Image), c.Args...)
	r.containers[c.Name] = true
	cmd := r.Command(ctx, args...)
	// Never outlive the test: podman is killed with it, and Close removes
	// the container even then.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// copyForUser copies a host file into the runner's folder, owned by the
// container's user and readable by it alone.
func (r *Runner) copyForUser(path, container string, i int, user string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("file for container %s: %w", container, err)
	}
	dst := filepath.Join(r.dir, "files", container, strconv.Itoa(i)+"-"+filepath.Base(path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, b, 0o400); err != nil {
		return "", err
	}
	if user != "" {
		uid, gid, err := parseUser(user)
		if err != nil {
			return "", err
		}
		if err := os.Chown(dst, uid, gid); err != nil {
			return "", err
		}
	}
	return dst, nil
}

func parseUser(user string) (int, int, error) {
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("container user %q: want numeric uid:gid", user)
	}
	return uid, gid, nil
}

// State is what podman says about a running container.
type State struct {
	// Pid is the container's main process as the machine sees it.
	Pid int
	// Running is false once it exited.
	Running bool
}

// Inspect returns a container's state.
func (r *Runner) Inspect(ctx context.Context, name string) (State, error) {
	out, err := r.output(ctx, "container", "inspect", "--format", "{{.State.Pid}} {{.State.Running}}", name)
	if err != nil {
		return State{}, err
	}
	var s State
	if _, err := fmt.Sscanf(out, "%d %t", &s.Pid, &s.Running); err != nil {
		return State{}, fmt.Errorf("podman inspect %s: %q: %w", name, out, err)
	}
	return s, nil
}

// WaitRunning waits until the container runs and returns its state.
func (r *Runner) WaitRunning(ctx context.Context, name string) (State, error) {
	var last error
	for {
		s, err := r.Inspect(ctx, name)
		if err == nil && s.Running && s.Pid > 0 {
			return s, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return State{}, fmt.Errorf("container %s not running: %w (last: %v)", name, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close removes every container the runner started (killing those still
// running), the images, and any mount left under its folder, then the
// folder's contents. It is safe to call more than once.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	names := make([]string, 0, len(r.containers))
	for n := range r.containers {
		names = append(names, n)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if len(names) > 0 {
		if _, err := r.output(ctx, append([]string{"rm", "--force", "--ignore", "--time", "5"}, names...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := r.output(ctx, "rmi", "--all", "--force"); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, unmountUnder(r.dir))
	errs = append(errs, os.RemoveAll(r.dir))
	for _, d := range r.outside {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// unmountUnder unmounts whatever is still mounted below dir (deepest
// first), so that removing it cannot fail on a busy mount.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mounts[i], err))
		}
	}
	return errors.Join(errs...)
}
