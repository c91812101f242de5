package opscheck_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	rivetflow "github.com/rivet-flow/rivet-flow"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "opscheck-token"

// repoFile is a file of the repository, found from this test's source.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", filepath.FromSlash(rel))
}

// exposed starts a real node, makes the requests that create the labelled
// series (an action, a failed call), and returns every sample name /metrics
// exposes with the label names seen on it.
func exposed(t *testing.T) map[string]map[string]bool {
	t.Helper()
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	base := "http://" + n.Addr()
	do := func(method, path, body string) []byte {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var created struct {
		Actor struct {
			ID string `json:"id"`
		} `json:"actor"`
	}
	if err := json.Unmarshal(do(http.MethodPut, "/v1/actors", `{"type":"counter","key":["ops"]}`), &created); err != nil || created.Actor.ID == "" {
		t.Fatalf("create an actor: %v", err)
	}
	do(http.MethodPost, "/v1/actors/"+created.Actor.ID+"/actions/increment", `{"args":[1]}`)
	do(http.MethodPost, "/v1/actors/"+created.Actor.ID+"/actions/nope", `{"args":[]}`)

	names := map[string]map[string]bool{}
	for _, line := range strings.Split(string(do(http.MethodGet, "/metrics", "")), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		head := line[:strings.LastIndexByte(line, ' ')]
		name, labels, _ := strings.Cut(head, "{")
		if names[name] == nil {
			names[name] = map[string]bool{}
		}
		for _, m := range labelNameRE.FindAllStringSubmatch(labels, -1) {
			names[name][m[1]] = true
		}
	}
	return names
}

var (
	labelNameRE = regexp.MustCompile(`(\w+)="`)
	// A metric selector: one of rivet-flow's or the Go client's names, with
	// the matchers in braces if any.
	selectorRE = regexp.MustCompile(`\b((?:rivetflow|go|process)_[a-zA-Z0-9_]+)(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)`)
)

// Labels Prometheus adds to every target's series.
var targetLabels = map[string]bool{"instance": true, "job": true}

// dashboardExprs returns the PromQL of every panel of the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, "docker/grafana/rivet-flow.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	if len(out) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	return out
}

// alertExprs returns the expr of every rule in alerts.yml, and the alerts'
// names. The file keeps each expr on one line (checked here) so it reads
// without a YAML library; promtool (make check-ops) checks the rest.
func alertExprs(t *testing.T) (exprs, alerts []string) {
	t.Helper()
	data, err := os.ReadFile(repoFile(t, "docker/prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(trimmed, "expr:"); ok {
			v = strings.TrimSpace(v)
			if v == "" || v == "|" || v == ">" || strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") {
				t.Fatalf("alerts.yml line %d: keep each expr on one line", i+1)
			}
			exprs = append(exprs, v)
		}
		if v, ok := strings.CutPrefix(trimmed, "- alert:"); ok {
			alerts = append(alerts, strings.TrimSpace(v))
		}
	}
	if len(exprs) == 0 || len(exprs) != len(alerts) {
		t.Fatalf("alerts.yml: %d exprs for %d alerts", len(exprs), len(alerts))
	}
	return exprs, alerts
}

// Every metric the dashboard and the alert rules query is exposed by a
// real node, with every label they match on.
func TestDashboardAndAlertsUseExposedMetrics(t *testing.T) {
	names := exposed(t)
	exprs, alerts := alertExprs(t)
	exprs = append(exprs, dashboardExprs(t)...)
	used := map[string]bool{}
	for _, expr := range exprs {
		sels := selectorRE.FindAllStringSubmatch(expr, -1)
		if len(sels) == 0 {
			t.Errorf("query %q uses no rivet-flow metric", expr)
		}
		for _, m := range sels {
			name := m[1]
			used[name] = true
			labels, ok := names[name]
			if !ok {
				t.Errorf("query %q uses %s, which /metrics does not expose", expr, name)
				continue
			}
			for _, lm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
				if !labels[lm[1]] && !targetLabels[lm[1]] {
					t.Errorf("query %q selects on label %s, which %s does not have", expr, lm[1], name)
				}
			}
		}
	}
	// The four alerts are there.
	for _, want := range []string{"rivetflow_eventlog_store_used_bytes", "rivetflow_eventlog_appends_total",
		"rivetflow_actor_mailbox_rejections_total", "rivetflow_actor_action_seconds_bucket"} {
		if !used[want] {
			t.Errorf("no alert or panel queries %s", want)
		}
	}
	if len(alerts) < 4 {
		t.Errorf("alerts: %v, want at least store nearly full, append errors, mailbox rejections and actions p99", alerts)
	}
	list := make([]string, 0, len(used))
	for n := range used {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("%d metrics checked: %s", len(list), strings.Join(list, " "))
}
