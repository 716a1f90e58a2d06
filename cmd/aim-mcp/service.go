package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/opena2a-org/aim-mcp/watch"
)

// absPath makes a --config path absolute for a service, whose working
// directory is not this one.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// runService installs, removes or describes the login service that runs
// "aim-mcp watch" with args.
func runService(ctx context.Context, e env, action, dir string, args []string) error {
	s, err := loginService(dir, args)
	if err != nil {
		return err
	}
	switch action {
	case "install":
		msg, err := s.Install()
		fmt.Fprint(e.stdout, msg)
		if err != nil {
			ce := errorf("the service file is written, but it could not be started: %v", err)
			if runtime.GOOS == "linux" {
				ce.hint("systemctl --user needs a login session with a user manager (loginctl enable-linger %s keeps one)", getenv("USER"))
				ce.hint("once there is one: systemctl --user enable --now %s", watch.UnitName)
			}
			return ce
		}
		fmt.Fprintln(e.stdout)
		return nil
	case "uninstall":
		msg, err := s.Uninstall()
		if err != nil {
			return errorf("%v", err)
		}
		fmt.Fprintln(e.stdout, msg)
		return nil
	case "status":
		msg, installed := s.Status()
		fmt.Fprintln(e.stdout, msg)
		if !installed {
			return errSilent
		}
		return nil
	}
	return &usageError{cmd: "watch", msg: "--service wants install, uninstall or status, not " + strconv.Quote(action)}
}

// loginService describes the service for this user and OS.
func loginService(dir string, args []string) (watch.Service, error) {
	exe, err := selfPath()
	if err != nil {
		return watch.Service{}, err
	}
	userHome, err := os.UserHomeDir()
	if err != nil {
		return watch.Service{}, errorf("cannot find your home directory: %v", err)
	}
	s := watch.Service{
		GOOS: runtime.GOOS, Exe: exe, Args: args, Home: userHome,
		Dir: dir,
		UID: os.Getuid(),
		Run: func(name string, args ...string) (string, error) {
			out, err := exec.Command(name, args...).CombinedOutput()
			return string(out), err
		},
	}
	switch runtime.GOOS {
	case "windows":
		s.User = getenv("USERNAME")
		if d := getenv("USERDOMAIN"); d != "" {
			s.User = d + `\` + s.User
		}
	case "darwin":
	default:
		s.ConfigHome = filepath.Join(userHome, ".config")
		if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
			// The user manager may not have it: the unit pins it, so the
			// watcher finds the same configs as this shell.
			s.ConfigHome = x
			s.Env = map[string]string{"XDG_CONFIG_HOME": x}
		}
	}
	return s, nil
}
