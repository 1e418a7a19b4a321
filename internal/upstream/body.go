package upstream

import "io"

// StopBody is a response body whose Close also releases the context of
// its request, for answers that outlive the function that asked: a
// fallback's header timeout, say, whose context must stay alive while
// the body is read.
type StopBody struct {
	io.ReadCloser
	Stop func()
}

// Close closes the body, then releases the request's context.
func (b *StopBody) Close() error {
	err := b.ReadCloser.Close()
	b.Stop()
	return err
}
