package errcode_test

import (
	"fmt"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Look a code up to learn its status, its group and what it means.
func ExampleLookup() {
	e, ok := errcode.Lookup(errcode.ActorNotFound)
	fmt.Println(ok, e.HTTPStatus, e.Group)
	_, ok = errcode.Lookup("quota_exceeded") // a user error's own code
	fmt.Println(ok, errcode.Status("quota_exceeded"))
	// Output:
	// true 404 actor
	// false 500
}
