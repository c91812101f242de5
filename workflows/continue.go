package workflows

import "errors"

// errContinued unwinds a runner whose run continued as new: the new epoch
// is committed and its runner started; the old one exits without touching
// the actor again.
var errContinued = errors.New("workflows: run continued as new")
