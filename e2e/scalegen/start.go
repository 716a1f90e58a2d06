package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// firstByteEnv names the file where echo writes when its first byte came
// (Unix nanoseconds): the moment a command in front of it has forwarded
// the client's first message.
const firstByteEnv = "SCALEGEN_FIRST_BYTE"

// noteFirstByte waits for echo's first byte and writes when it came to the
// file firstByteEnv names, if any.
func noteFirstByte(in *bufio.Reader) {
	path := os.Getenv(firstByteEnv)
	if path == "" {
		return
	}
	if _, err := in.Peek(1); err != nil {
		return
	}
	os.WriteFile(path, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o600)
}

// start measures how long each command takes from its start to forwarding
// the client's first message to the server behind it (scalegen echo, which
// notes when that byte came), and to the answer of initialize. The commands
// are separated by ":::" and run in turn, runs times each; it prints one
// line per command: the median first byte and answer in ms.
func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	runs := fs.Int("runs", 21, "starts of each command; the median is printed")
	fs.Parse(args)
	cmds := [][]string{nil}
	for _, a := range fs.Args() {
		if a == ":::" {
			cmds = append(cmds, nil)
			continue
		}
		cmds[len(cmds)-1] = append(cmds[len(cmds)-1], a)
	}
	cmds = slices.DeleteFunc(cmds, func(c []string) bool { return len(c) == 0 })
	if len(cmds) == 0 {
		return errors.New("start: no command after --")
	}
	dir, err := os.MkdirTemp("", "scalegen-start-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	first := make([][]float64, len(cmds))
	answer := make([][]float64, len(cmds))
	for run := range *runs {
		for i, argv := range cmds {
			f, a, err := startOnce(argv, filepath.Join(dir, fmt.Sprintf("%d-%d", i, run)))
			if err != nil {
				return fmt.Errorf("start: %s: %w", strings.Join(argv, " "), err)
			}
			first[i] = append(first[i], f)
			answer[i] = append(answer[i], a)
		}
	}
	for i := range cmds {
		fmt.Printf("%.2f %.2f\n", median(first[i]), median(answer[i]))
	}
	return nil
}

// startOnce starts argv with the initialize request already waiting on its
// stdin, and returns the ms to the server's first byte and to the answer.
func startOnce(argv []string, note string) (first, answer float64, err error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), firstByteEnv+"="+note)
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer cmd.Wait()
	defer w.Close()
	if _, err := io.WriteString(w, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"scalegen","version":"1"}}}`+"\n"); err != nil {
		return 0, 0, err
	}
	if _, err := bufio.NewReader(r).ReadBytes('\n'); err != nil {
		return 0, 0, fmt.Errorf("the initialize answer: %w", err)
	}
	took := time.Since(t0)
	b, err := os.ReadFile(note)
	if err != nil {
		return 0, 0, fmt.Errorf("the server noted no first byte: %w", err)
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, 0, err
	}
	return float64(ns-t0.UnixNano()) / 1e6, float64(took.Microseconds()) / 1000, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
