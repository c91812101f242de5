package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binary is the real rivet-flow binary, built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rivet-flow-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "rivet-flow")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rivet-flow: %v\n%s", err, out)
		os.Exit(1)
	}
	code := 0
	func() {
		defer os.RemoveAll(dir)
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		code = m.Run()
	}()
	os.Exit(code)
}

// proc is a running rivet-flow serve.
type proc struct {
	cmd    *exec.Cmd
	addr   string        // HTTP address once ready
	logs   chan logLine  // every JSON log line
	exited chan struct{} // closed when the process has exited
	stderr *strings.Builder
}

type logLine map[string]any

// startServe runs `rivet-flow serve` on dataDir with a free port and waits for
// its "ready" log line.
func startServe(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	return startServeEnv(t, dataDir, nil, extra...)
}

// startServeEnv is startServe with extra environment variables for the
// child (the crash hooks of actors/crashhooks.go, for example).
func startServeEnv(t *testing.T, dataDir string, env []string, extra ...string) *proc {
	t.Helper()
	p := launchEnv(t, dataDir, env, extra...)
	for {
		select {
		case l := <-p.logs:
			if l["msg"] == "rivet-flow ready" {
				p.addr = strings.TrimPrefix(l["http"].(string), "http://")
				t.Logf("ready after %v (startup %v)", l["time"], l["startup"])
				return p
			}
		case <-p.exited:
			t.Fatalf("rivet-flow exited before ready: %s", p.stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("rivet-flow not ready after 30s: %s", p.stderr.String())
		}
	}
}

func launch(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	return launchEnv(t, dataDir, nil, extra...)
}

func launchEnv(t *testing.T, dataDir string, env []string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: make(chan logLine, 1000), exited: make(chan struct{}), stderr: &strings.Builder{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.stderr.WriteString(sc.Text() + "\n")
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				select {
				case p.logs <- l:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("rivet-flow did not exit: %s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	base := "http://" + p.addr
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("healthz = %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("readyz = %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{"rivetflow_build_info", "rivetflow_eventlog_appends_inflight", "rivetflow_snapshot_", "go_goroutines"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics (%d) lack %s", code, want)
		}
	}
	if out, err := exec.Command(binary, "healthcheck", "--http-addr", p.addr).CombinedOutput(); err != nil {
		t.Errorf("healthcheck against a ready server: %v %s", err, out)
	}
	if code, _ := get(t, base+"/nope"); code != 404 {
		t.Errorf("unknown route = %d", code)
	}
	// SIGTERM: a clean drain and exit 0, and the data dir is free again.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d: %s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), `"clean":true`) {
		t.Errorf("no clean stop logged: %s", p.stderr.String())
	}
	if out, err := exec.Command(binary, "healthcheck", "--http-addr", p.addr).CombinedOutput(); exitCode(err) != 1 {
		t.Errorf("healthcheck against a stopped server: %v %s", err, out)
	}
}

func TestServeRefusesSecondProcessOnDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startServe(t, dir)
	second := launch(t, dir)
	if code := second.wait(t); code != 1 {
		t.Fatalf("second process exit code = %d, want 1", code)
	}
	msg := second.stderr.String()
	pid := fmt.Sprint(first.cmd.Process.Pid)
	for _, want := range []string{"in use by another process", "pid " + pid, "--data-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("second process error lacks %q: %s", want, msg)
		}
	}
	// The first one is unaffected.
	if code, _ := get(t, "http://"+first.addr+"/readyz"); code != 200 {
		t.Errorf("first process readyz = %d", code)
	}
}

func TestServeUnusableDataDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dataDir string
		want    string
	}{
		{"file as data dir", file, "a file is in the way"},
		{"under a file", filepath.Join(file, "sub"), "a file is in the way"},
	}
	for _, tc := range tests {
		p := launch(t, tc.dataDir)
		if code := p.wait(t); code != 1 || !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %s; want 1 and %q", tc.name, code, p.stderr.String(), tc.want)
		}
	}
}

func TestServeBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--fsync", "sometimes"}, 2, `--fsync "sometimes": want default or always`},
		{[]string{"--log-level", "loud"}, 2, "--log-level"},
		{[]string{"--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"--nats-listen", "nohost"}, 1, "want host:port"},
	}
	for _, tc := range tests {
		p := launch(t, t.TempDir(), tc.args...)
		if code := p.wait(t); code != tc.code || !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %s; want %d and %q", tc.args, code, p.stderr.String(), tc.code, tc.want)
		}
	}
}

func TestServeEnvVars(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "serve", "--http-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "RIVETFLOW_DATA_DIR="+filepath.Join(t.TempDir(), "d"), "RIVETFLOW_FSYNC=never")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--fsync "never"`) {
		t.Fatalf("RIVETFLOW_FSYNC=never: %v %s", err, out)
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "rivet-flow ") {
		t.Fatalf("version: %v %q", err, out)
	}
	out, err = exec.Command(binary, "bogus").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "unknown command") {
		t.Fatalf("bogus command: exit %d %s", code, out)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
