package forge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/fedgen/fedgen/internal/rig/proc"
)

// AdminUser is the Gitea user Start creates; it owns the repositories.
// ("admin" itself is a name Gitea reserves.)
const AdminUser = "fedgen-admin"

// Options say where Gitea runs from.
type Options struct {
	// Dir holds app.ini, the sqlite database, repositories and the log.
	Dir string
	// BinDir holds gitea and gitea-static/ (what `make tools` links).
	BinDir string
}

// Gitea is a running Gitea server. Stop it when done.
type Gitea struct {
	dir   string
	url   string // http://127.0.0.1:<port>/
	token string
	proc  *proc.Process
	bin   string
	ini   string

	stopOnce sync.Once
}

// Start writes app.ini into opts.Dir, starts `gitea web` on a free
// loopback port, waits for its API, then creates the admin user and its
// token with Gitea's CLI. On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (_ *Gitea, err error) {
	bin := filepath.Join(opts.BinDir, "gitea")
	static := filepath.Join(opts.BinDir, "gitea-static")
	for _, p := range []string{bin, filepath.Join(static, "templates")} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s not found: run `make tools` (it builds Gitea, once, into a cache): %w", p, err)
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving the forge folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("creating the forge folder: %w", err)
	}
	g := &Gitea{dir: dir, bin: bin, ini: filepath.Join(dir, "app.ini")}
	defer func() {
		if err != nil {
			g.Stop()
		}
	}()
	// A port taken between choosing and binding fails the start: try again.
	for attempt := 1; ; attempt++ {
		err = g.startOnce(ctx, static)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
		g.proc.Stop(5 * time.Second)
	}
	if err != nil {
		return nil, err
	}
	if _, err := g.cli(ctx, "admin", "user", "create", "--admin", "--username", AdminUser,
		"--password", randomHex(16), "--email", AdminUser+"@localhost", "--must-change-password=false"); err != nil {
		return nil, fmt.Errorf("creating the Gitea admin: %w", err)
	}
	out, err := g.cli(ctx, "admin", "user", "generate-access-token", "--username", AdminUser,
		"--token-name", "fedgen-tests", "--scopes", "all", "--raw")
	if err != nil {
		return nil, fmt.Errorf("creating the Gitea token: %w", err)
	}
	// The CLI also prints log lines: the token is the last line that is one.
	tokens := tokenLine.FindAllString(out, -1)
	if len(tokens) == 0 {
		return nil, errors.New("creating the Gitea token: no token in the CLI's output")
	}
	g.token = strings.TrimSpace(tokens[len(tokens)-1])
	return g, nil
}

var tokenLine = regexp.MustCompile(`(?m)^[0-9a-f]{40}\s*$`)

func (g *Gitea) startOnce(ctx context.Context, static string) error {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return err
	}
	g.url = "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/"
	if err := os.WriteFile(g.ini, []byte(appINI(g.dir, static, ports[0])), 0o600); err != nil {
		return fmt.Errorf("writing app.ini: %w", err)
	}
	g.proc = &proc.Process{
		Name:    "gitea",
		Path:    g.bin,
		Args:    []string{"web", "--config", g.ini, "--work-path", g.dir, "--pid", filepath.Join(g.dir, "gitea.pid"), "--quiet"},
		Env:     g.env(),
		Dir:     g.dir,
		LogPath: filepath.Join(g.dir, "gitea.log"),
	}
	if err := g.proc.Start(); err != nil {
		return err
	}
	return proc.WaitHTTPOK(ctx, g.proc, g.url+"api/v1/version")
}

// env keeps Gitea and the git it runs away from the caller's own
// configuration.
func (g *Gitea) env() []string {
	return []string{"HOME=" + filepath.Join(g.dir, "home"), "GITEA_WORK_DIR=" + g.dir, "GIT_CONFIG_NOSYSTEM=1"}
}

// cli runs a Gitea CLI command against this server's configuration and
// returns its standard output.
func (g *Gitea) cli(ctx context.Context, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, g.bin, append([]string{"--config", g.ini, "--work-path", g.dir}, args...)...)
	cmd.Env = append(os.Environ(), g.env()...)
	cmd.Dir = g.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitea %s: %w: %s", args[0]+" "+args[1]+" "+args[2], err, lastLines(stderr.String()+stdout.String(), 5))
	}
	return stdout.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// appINI is Gitea's configuration for one headless test server: loopback
// only, sqlite, no mail, no actions, no packages, no SSH, in-memory queues,
// webhooks to loopback allowed.
func appINI(dir, static string, port int) string {
	return fmt.Sprintf(`APP_NAME = fedgen test forge
RUN_MODE = prod
RUN_USER = root
WORK_PATH = %[1]s
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:%[3]d/
LOCAL_ROOT_URL = http://127.0.0.1:%[3]d/
OFFLINE_MODE = true
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
STATIC_ROOT_PATH = %[2]s
APP_DATA_PATH = %[1]s/data

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = %[1]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[4]s
INTERNAL_TOKEN = %[5]s

[service]
DISABLE_REGISTRATION = true

[webhook]
ALLOWED_HOST_LIST = loopback

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db

[mailer]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[cron]
ENABLED = false

[log]
MODE = console
LEVEL = Warn
`, dir, static, port, randomHex(32), randomHex(48))
}

// URL is the server's root URL, e.g. http://127.0.0.1:3000/.
func (g *Gitea) URL() string { return g.url }

// APIURL is the base URL of Gitea's API clients take (the root URL: the
// SDK adds /api/v1 itself).
func (g *Gitea) APIURL() string { return strings.TrimSuffix(g.url, "/") }

// Token is the admin's API token, which also works as the HTTPS basic-auth
// password for git (any user name).
func (g *Gitea) Token() string { return g.token }

// Dir is the folder holding Gitea's data and log.
func (g *Gitea) Dir() string { return g.dir }

// LogPath is Gitea's log.
func (g *Gitea) LogPath() string { return filepath.Join(g.dir, "gitea.log") }

// PID is Gitea's process id (0 when stopped).
func (g *Gitea) PID() int {
	if g.proc == nil {
		return 0
	}
	return g.proc.PID()
}

// Process is Gitea's server process, for listings of a fleet's processes.
func (g *Gitea) Process() *proc.Process { return g.proc }

// Client is a Gitea API client authenticated as the admin, bound to ctx.
func (g *Gitea) Client(ctx context.Context) (*gitea.Client, error) {
	c, err := gitea.NewClient(g.APIURL(), gitea.SetToken(g.token), gitea.SetContext(ctx),
		gitea.SetHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("connecting to Gitea: %w", err)
	}
	return c, nil
}

// Stop stops Gitea by its PID (SIGTERM, then SIGKILL). It is safe to call
// more than once; the folder is left to its owner.
func (g *Gitea) Stop() {
	g.stopOnce.Do(func() {
		if g.proc != nil {
			g.proc.Stop(10 * time.Second)
		}
	})
}
