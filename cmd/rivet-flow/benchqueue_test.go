package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quickBenchQueue is a short run with small settings: the shape of the
// output, not the timing.
var quickBenchQueue = []string{"--duration", "1s", "--rounds", "2", "--producers", "2", "--consumers", "2", "--batch", "8",
	"--body-bytes", "256", "--overflow-duration", "500ms", "--overflow-max", "20"}

func TestBenchQueueGo(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(append([]string{"bench"}, append([]string{"queue"}, quickBenchQueue...)...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"rivet-flow bench queue: via go", "raw jetstream", "queue (go)", "ratio: queue msgs/s over raw msgs/s", "heap:", "overflow:", "queue_full"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "round 2/2") {
		t.Errorf("stderr has no progress:\n%s", stderr.String())
	}
}

func TestBenchQueueHTTPJSON(t *testing.T) {
	var stdout, stderr strings.Builder
	args := append([]string{"queue", "--via", "http", "--json"}, quickBenchQueue...)
	if code := run(append([]string{"bench"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var res struct {
		Via   string `json:"via"`
		Raw   *queueResult
		Queue *queueResult
		Ratio *float64 `json:"ratio"`
		Over  *struct {
			QueueFull int64 `json:"queueFull"`
			Enqueued  int64 `json:"enqueued"`
			Flat      bool  `json:"flat"`
		} `json:"overflow"`
		HeapStart float64 `json:"heapStartMiB"`
		HeapEnd   float64 `json:"heapEndMiB"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	switch {
	case res.Via != "http" || res.Raw == nil || res.Queue == nil || res.Ratio == nil || res.Over == nil:
		t.Fatalf("missing fields:\n%s", stdout.String())
	case res.Queue.Acked == 0 || res.Raw.Acked == 0 || res.Queue.Seconds <= 0:
		t.Errorf("nothing went through:\n%s", stdout.String())
	case res.Over.Enqueued == 0 || res.HeapStart <= 0 || res.HeapEnd <= 0:
		t.Errorf("no memory check:\n%s", stdout.String())
	}
}

func TestBenchQueueFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--via", "grpc"},
		{"--via", "go", "--addr", "http://127.0.0.1:1"},
		{"--body-bytes", "8"},
		{"--batch", "0"},
		{"--addr", "http://example.com", "--via", "http"},
		{"--via", "watermill", "--addr", "http://127.0.0.1:1"},
		{"--via", "actor", "--body-bytes", "40"},
		{"--via", "actor", "--actors", "0"},
		{"--via", "go", "--actors", "8"},
		{"--keys", "-1"},
		{"--priority", "6"},
	} {
		var stdout, stderr strings.Builder
		start := time.Now()
		if code := run(append([]string{"bench"}, append([]string{"queue"}, args...)...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v: took %v", args, time.Since(start))
		}
	}
}

// smokeBenchQueue is one short slice per side, for the modes' smoke tests.
var smokeBenchQueue = []string{"--duration", "1s", "--rounds", "1", "--producers", "2", "--consumers", "2", "--batch", "8",
	"--body-bytes", "256", "--overflow-duration", "500ms", "--overflow-max", "20"}

// runBenchQueue runs bench queue with args after smokeBenchQueue and
// returns stdout.
func runBenchQueue(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := run(append([]string{"bench"}, append(append([]string{"queue"}, smokeBenchQueue...), args...)...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// tableRow returns the numbers of the table row named name: enqueued,
// acked, queue_full, errors, msgs/s.
func tableRow(t *testing.T, out, name string) []float64 {
	t.Helper()
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			t.Fatalf("row %q has %d fields:\n%s", name, len(f), out)
		}
		var nums []float64
		for _, s := range f[:5] {
			n, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("row %q: %q is not a number:\n%s", name, s, out)
			}
			nums = append(nums, n)
		}
		return nums
	}
	t.Fatalf("no row %q:\n%s", name, out)
	return nil
}

func TestBenchQueueWatermill(t *testing.T) {
	out := runBenchQueue(t, "--via", "watermill")
	for _, want := range []string{"rivet-flow bench queue: via watermill", "Watermill router, 2 handlers", "ratio: queue msgs/s over raw msgs/s", "overflow:", "flat"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	raw, q := tableRow(t, out, "raw jetstream"), tableRow(t, out, "queue (watermill)")
	if raw[1] == 0 || q[1] == 0 || q[3] != 0 {
		t.Errorf("acked %v raw, %v queue (errors %v):\n%s", raw[1], q[1], q[3], out)
	}
}

func TestBenchQueueActor(t *testing.T) {
	out := runBenchQueue(t, "--via", "actor", "--actors", "8")
	for _, want := range []string{"rivet-flow bench queue: via actor", "on 8 actors", "ratio: queue msgs/s over raw msgs/s", "overflow:", "flat"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if q := tableRow(t, out, "queue (actor)"); q[1] == 0 || q[3] != 0 {
		t.Errorf("delivered %v (errors %v):\n%s", q[1], q[3], out)
	}
}

func TestBenchQueueKeysPriorityJSON(t *testing.T) {
	out := runBenchQueue(t, "--keys", "8", "--priority", "1", "--json", "--overflow-duration", "0")
	var res struct {
		Keys     int          `json:"keys"`
		Priority int          `json:"priority"`
		Queue    *queueResult `json:"queue"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Keys != 8 || res.Priority != 1 || res.Queue == nil || res.Queue.Acked == 0 || res.Queue.Errors != 0 {
		t.Errorf("unexpected result:\n%s", out)
	}
}
