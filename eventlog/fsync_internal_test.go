package eventlog

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// Both durability modes reach the embedded server's configuration and the
// stream (group commit is allowed only where it pays: fsync always).
func TestFsyncModesConfigureTheServer(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncDefault, FsyncAlways} {
		ctx := context.Background()
		l, err := Open(ctx, Config{DataDir: t.TempDir(), Fsync: mode, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		js := l.emb.srv.JetStreamConfig()
		if js == nil || js.SyncAlways != (mode == FsyncAlways) {
			t.Errorf("%s: server SyncAlways = %v", mode, js != nil && js.SyncAlways)
		}
		info, err := l.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.AllowAtomicPublish != (mode == FsyncAlways) || !info.Config.DenyDelete || !info.Config.DenyPurge {
			t.Errorf("%s: stream config %+v", mode, info.Config)
		}
		subj, _ := ActorRef{Type: "t", Key: []string{"k"}}.Subject()
		if _, err := l.Append(ctx, subj, 0, &Event{Kind: KindCreate}); err != nil {
			t.Errorf("%s: append: %v", mode, err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
