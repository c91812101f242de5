package main

import (
	"encoding/json"
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
	if code := benchCmd(append([]string{"queue"}, quickBenchQueue...), &stdout, &stderr); code != 0 {
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
	if code := benchCmd(args, &stdout, &stderr); code != 0 {
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
	} {
		var stdout, stderr strings.Builder
		start := time.Now()
		if code := benchCmd(append([]string{"queue"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v: took %v", args, time.Since(start))
		}
	}
}
