package mcpproxy

import "os"

// upstream is the real server as the pumps and the session's lifecycle see
// it: frames go in with Write, one frame per call, and come out of Read,
// newline-delimited; its life ends in the steps the lifecycle takes. The
// child process is one kind; a remote server's streamable HTTP session
// (httpup.go) is the other: everything after the line reader is the same.
type upstream interface {
	Read(p []byte) (int, error)
	Write(frame []byte) (int, error)
	// closeInput says the client is done: the child's stdin closes.
	closeInput() error
	// closeOutput ends a Read in progress once the server is gone.
	closeOutput() error
	// wait returns when the server is gone.
	wait()
	// terminate asks the server to stop; kill makes it, along with
	// anything it started.
	terminate()
	kill()
	// signalOS passes on a signal the proxy received.
	signalOS(os.Signal)
	// exitStatus is the code to exit with and a few words on how it ended.
	exitStatus() (int, string)
	// describe is what the session_start record says about the server.
	describe() map[string]any
}

var _ upstream = (*child)(nil)

func (c *child) Read(p []byte) (int, error)      { return c.stdout.Read(p) }
func (c *child) Write(frame []byte) (int, error) { return c.stdin.Write(frame) }
func (c *child) closeInput() error               { return c.stdin.Close() }
func (c *child) closeOutput() error              { return c.stdout.Close() }
func (c *child) terminate()                      { c.signal(sigTerm) }
func (c *child) describe() map[string]any        { return map[string]any{"pid": c.pid()} }
