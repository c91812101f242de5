// Command embed serves a registry of your own actor types: an inventory with
// typed actions, a user error, a broadcast and a per-actor KV audit trail.
//
//	go run ./examples/embed                 # serves on 127.0.0.1:6421, data in ./data-embed
//	go run ./examples/embed -demo           # also runs a few calls and prints what happened
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
)

// Stock is an inventory item's state.
type Stock struct {
	SKU      string `json:"sku"`
	OnHand   int    `json:"onHand"`
	Reserved int    `json:"reserved"`
}

// Inventory keeps one SKU's stock. Reserving more than is available is a user
// error the caller sees with its code and metadata.
var Inventory = actors.NewType("inventory", actors.Options[Stock]{
	CreateState: func(c *actors.Context[Stock], _ json.RawMessage) (Stock, error) {
		return Stock{SKU: c.Key()[0]}, nil
	},
}).
	Action("restock", actors.Act(func(c *actors.Context[Stock], n int) (Stock, error) {
		if n <= 0 {
			return *c.State, actors.NewUserError("invalid_quantity", "restock needs a positive quantity", map[string]int{"got": n})
		}
		c.State.OnHand += n
		c.KV().Put(fmt.Sprintf("audit/%020d", c.Now().UnixNano()), fmt.Appendf(nil, "restock %d", n))
		c.Broadcast("stockChanged", c.State)
		return *c.State, nil
	})).
	Action("reserve", actors.Act(func(c *actors.Context[Stock], n int) (Stock, error) {
		if free := c.State.OnHand - c.State.Reserved; n > free {
			return *c.State, actors.NewUserError("insufficient_stock", "not enough stock", map[string]int{"available": free, "requested": n})
		}
		c.State.Reserved += n
		c.KV().Put(fmt.Sprintf("audit/%020d", c.Now().UnixNano()), fmt.Appendf(nil, "reserve %d", n))
		c.Broadcast("stockChanged", c.State)
		return *c.State, nil
	})).
	Action("audit", actors.Act0(func(c *actors.Context[Stock]) ([]string, error) {
		var out []string
		for _, e := range c.KV().List("audit/") {
			out = append(out, string(e.Value))
		}
		return out, nil
	}))

func main() {
	dataDir := flag.String("data-dir", "./data-embed", "data directory")
	addr := flag.String("http-addr", "127.0.0.1:6421", "HTTP address")
	demo := flag.Bool("demo", false, "run a few calls, print them, and exit")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	reg, err := actors.NewRegistry(Inventory, builtin.Counter)
	if err != nil {
		log.Error("registry", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: *dataDir, HTTPAddr: *addr, Registry: reg, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	defer n.Stop(context.Background())

	if *demo {
		if err := runDemo(ctx, n.Runtime().Client()); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return
	}
	<-ctx.Done()
}

func runDemo(ctx context.Context, client *actors.Client) error {
	h, created, err := client.GetOrCreate(ctx, "inventory", []string{"sku-42"}, nil)
	if err != nil {
		return err
	}
	fmt.Printf("inventory %s (created: %v)\n", h.ID, created)
	events, err := h.Subscribe(ctx, "stockChanged")
	if err != nil {
		return err
	}
	defer events.Close()
	s, err := actors.Call[Stock](ctx, h, "restock", 10)
	if err != nil {
		return err
	}
	fmt.Printf("restocked: %+v\n", s)
	b := <-events.Events()
	fmt.Printf("broadcast %s %s\n", b.Name, b.Args)
	if _, err := actors.Call[Stock](ctx, h, "reserve", 1000); err != nil {
		fmt.Printf("reserve 1000: %v\n", err)
	}
	audit, err := actors.Call[[]string](ctx, h, "audit")
	if err != nil {
		return err
	}
	fmt.Printf("audit trail: %v\n", audit)
	return nil
}
