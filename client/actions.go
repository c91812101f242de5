package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

type actionRequest struct {
	Args []any `json:"args"`
}

type actionResult struct {
	Output json.RawMessage `json:"output"`
}

// Call runs the action on the actor with this ID and returns its output as
// JSON. Each argument is encoded with encoding/json (a json.RawMessage is sent
// as is). The server answers once the action's event is in its log. An error
// the action returned on purpose is an *Error with Group "user" and the
// action's own code and metadata.
func (c *Client) Call(ctx context.Context, id, action string, args ...any) (json.RawMessage, error) {
	if id == "" {
		return nil, errMissing("actor ID")
	}
	if action == "" {
		return nil, errMissing("action name")
	}
	if args == nil {
		args = []any{}
	}
	var res actionResult
	if err := c.do(ctx, http.MethodPost, "/v1/actors/"+escape(id)+"/actions/"+escape(action), nil, actionRequest{Args: args}, &res); err != nil {
		return nil, err
	}
	if res.Output == nil {
		res.Output = json.RawMessage("null")
	}
	return res.Output, nil
}

// CallAs runs the action like Client.Call and decodes its output into an R.
// (It is a function, not a method, because methods cannot take type
// parameters.)
func CallAs[R any](ctx context.Context, c *Client, id, action string, args ...any) (R, error) {
	var out R
	raw, err := c.Call(ctx, id, action, args...)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		var zero R
		return zero, fmt.Errorf("client: decode the output of %s as %T: %w", action, zero, err)
	}
	return out, nil
}

type idemKeyCtx struct{}

// WithIdempotencyKey returns a context whose calls send key as the
// Idempotency-Key header: the actor remembers the first successful call with
// it (24 h by default), a repeat gets that call's output and changes nothing,
// and the same key with other arguments fails with code
// idempotency_key_reused. With a key, the client also retries an
// unknown_outcome answer (without one it cannot know the retry is safe).
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idemKeyCtx{}, key)
}

func idempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idemKeyCtx{}).(string)
	return k
}
