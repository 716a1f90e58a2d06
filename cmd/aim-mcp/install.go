package main

import "context"

func runInstall(ctx context.Context, e env, args []string) error   { return errorf("not yet") }
func runUninstall(ctx context.Context, e env, args []string) error { return errorf("not yet") }
func runList(ctx context.Context, e env, args []string) error      { return errorf("not yet") }
