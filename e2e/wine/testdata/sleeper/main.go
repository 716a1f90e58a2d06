// Command sleeper stands in for the node.exe that npx.cmd starts: it
// writes its pid to the file it is given and sleeps, reading nothing, so
// only something that ends its process tree ends it.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sleeper PIDFILE")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "sleeper:", err)
		os.Exit(1)
	}
	time.Sleep(time.Hour)
}
