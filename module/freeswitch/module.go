//go:build freeswitch

package main

/*
#cgo pkg-config: freeswitch
#include "xrtc.hh"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/conf"
	"xccrtc/module/xrtc"
)

// version is reported in node status messages when FreeSWITCH gives none.
const version = "mod_xrtc"

// module is one load of mod_xrtc: FreeSWITCH may unload and load it again
// in the same process (the Go runtime stays), and every load starts afresh.
type module struct {
	ep   *xrtc.Endpoint
	host *fsHost
	log  *slog.Logger
	path string
}

var (
	loadMu sync.Mutex             // serialises load and shutdown
	mod    atomic.Pointer[module] // the running module, nil when not loaded
)

func current() *module { return mod.Load() }

// guard recovers a panic at an entry point from C: a panic in Go would
// take FreeSWITCH down.
func guard(where string) {
	if v := recover(); v != nil {
		logPanic(where, v)
	}
}

func logPanic(where string, v any) {
	fsLog(C.XRTC_LOG_CRIT, "", fmt.Sprintf("mod_xrtc: recovered panic in %s: %v\n%s", where, v, debug.Stack()))
}

//export xrtcGoLoad
func xrtcGoLoad(cpath *C.char, errOut **C.char) (rc C.int) {
	defer func() {
		if v := recover(); v != nil {
			*errOut = C.CString(fmt.Sprintf("panic: %v", v))
			rc = 1
		}
	}()
	if err := load(C.GoString(cpath)); err != nil {
		*errOut = C.CString(err.Error())
		return 1
	}
	return 0
}

//export xrtcGoShutdown
func xrtcGoShutdown() {
	defer guard("shutdown")
	loadMu.Lock()
	defer loadMu.Unlock()
	m := current()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.ep.Stop(ctx); err != nil {
		m.log.Warn("mod_xrtc: stop", "err", err)
	}
	mod.Store(nil)
	m.log.Info("mod_xrtc: stopped")
}

//export xrtcGoAPI
func xrtcGoAPI(args *C.char) (out *C.char) {
	defer func() {
		if v := recover(); v != nil {
			logPanic("API", v)
			out = C.CString(fmt.Sprintf("-ERR internal error: %v\n", v))
		}
	}()
	m := current()
	if m == nil {
		return C.CString("-ERR mod_xrtc is not running\n")
	}
	return C.CString(m.ep.API(C.GoString(args)))
}

func load(path string) error {
	loadMu.Lock()
	defer loadMu.Unlock()
	log := slog.New(newFSHandler(nil))
	if old := current(); old != nil {
		// FreeSWITCH loads a module once; this only guards against a
		// shutdown that never came.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = old.ep.Stop(ctx)
		cancel()
		mod.Store(nil)
	}
	host := newHost(log)
	cfg, err := readConfig(path, host, log)
	if err != nil {
		return err
	}
	m := &module{host: host, log: log, path: path}
	ep, err := xrtc.New(xrtc.Options{
		Config:  cfg,
		Host:    host,
		Log:     log,
		Version: version,
		Reload:  func() (xrtc.Config, error) { return readConfig(path, host, log) },
		OnPanic: func(v any) {
			fsLog(C.XRTC_LOG_CRIT, "", fmt.Sprintf("mod_xrtc: the endpoint recovered a panic: %v", v))
		},
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m.ep = ep
	mod.Store(m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ep.Start(ctx); err != nil {
		mod.Store(nil)
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = ep.Stop(sctx)
		scancel()
		return fmt.Errorf("cannot start the endpoint: %w", err)
	}
	log.Info("mod_xrtc: loaded", "config", path, "node_uuid", ep.NodeUUID(), "subject", ep.NodeSubject())
	return nil
}

// readConfig reads xcc-rtc.conf.xml (at load and at `xrtc reload`),
// resolves its $${name} references from FreeSWITCH's global variables and
// its ext-rtp-ip values (STUN, DNS), and logs its warnings. Only errors
// refuse it: a configuration mod_verto would load loads (conf.Validate).
func readConfig(path string, host *fsHost, log *slog.Logger) (xrtc.Config, error) {
	c, err := conf.Load(path)
	if err != nil {
		return xrtc.Config{}, fmt.Errorf("%w (`make install-module` installs a sample; `go run ./tools/xrtc-conf init` writes one)", err)
	}
	vars := map[string]string{}
	if _, err := c.Resolve(vars); err != nil {
		var ue *conf.UnresolvedError
		if !errors.As(err, &ue) {
			return xrtc.Config{}, err
		}
		for _, name := range ue.Names() {
			if v, ok := globalVar(name); ok {
				vars[name] = v
			}
		}
	}
	cfg, probs, err := xrtc.LoadConfig(path, vars)
	if err != nil {
		// err lists every problem, one per line (file:line).
		return xrtc.Config{}, err
	}
	logProblems(log, probs)
	host.resolveExtIPs(&cfg)
	return cfg, nil
}

func logProblems(log *slog.Logger, probs conf.Problems) {
	for _, p := range probs {
		log.Warn("mod_xrtc: configuration: " + p.String())
	}
}
