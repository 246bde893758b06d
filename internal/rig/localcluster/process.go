package localcluster

import (
	"context"
	"sync"
	"time"

	"github.com/fedgen/fedgen/internal/rig/podnet"
	"github.com/fedgen/fedgen/internal/rig/proc"
)

// process is one server binary the fleet runs (see proc.Process). The
// fields are copied into the proc.Process at each start, so a restart
// picks up changed arguments.
type process struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string
	// netns, when set, is the network namespace the process runs in.
	netns *podnet.Namespace

	once sync.Once
	p    *proc.Process
}

func (p *process) proc() *proc.Process {
	p.once.Do(func() { p.p = &proc.Process{} })
	return p.p
}

// start launches the process. It must not be running.
func (p *process) start() error {
	pp := p.proc()
	if !pp.Running() {
		pp.Name, pp.Path, pp.Args, pp.Env, pp.LogPath = p.name, p.path, p.args, p.env, p.logPath
		if p.netns != nil {
			pp.Within = p.netns.Do
		}
	}
	return pp.Start()
}

func (p *process) running() bool            { return p.proc().Running() }
func (p *process) exitError() error         { return p.proc().ExitError() }
func (p *process) stop(grace time.Duration) { p.proc().Stop(grace) }
func (p *process) pid() int                 { return p.proc().PID() }
func (p *process) rss() (int64, error)      { return p.proc().RSS() }

func freePorts(n int) ([]int, error) { return proc.FreePorts(n) }

// poll calls done every interval until it returns true or an error, or ctx
// ends (the error then names the context's cause).
func poll(ctx context.Context, interval time.Duration, done func() (bool, error)) error {
	return proc.Poll(ctx, interval, done)
}

// waitHTTPOK polls url until it answers 200, the process exits or ctx ends;
// for a process in a network namespace, url is dialed from inside it.
func waitHTTPOK(ctx context.Context, p *process, url string) error {
	if p.netns != nil {
		return proc.WaitHTTPOKVia(ctx, p.proc(), url, p.netns.DialContext)
	}
	return proc.WaitHTTPOK(ctx, p.proc(), url)
}
