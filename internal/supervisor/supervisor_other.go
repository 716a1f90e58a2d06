//go:build !linux

package supervisor
