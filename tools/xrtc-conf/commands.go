package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"xccrtc/conf"
	"xccrtc/verto"
)

// loadConfig loads a config and, when vars are given, resolves it.
func loadConfig(path string, vars map[string]string) (*conf.Config, error) {
	cfg, err := conf.Load(path)
	if err != nil {
		return nil, err
	}
	if len(vars) > 0 {
		return cfg.Resolve(vars)
	}
	return cfg, nil
}

func printProblems(w io.Writer, ps conf.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, p)
	}
}

func setupValidate(fs *flag.FlagSet, _, stderr io.Writer) func([]string) int {
	strict := fs.Bool("strict", false, "make every warning an error (exit status 1); without it warnings are printed and validate exits 0 for them")
	vars := varsFlag{}
	fs.Var(vars, "var", "FreeSWITCH variable `name=value` for $${name} references (repeatable); with any, values are checked resolved")
	return func(files []string) int {
		if len(files) == 0 {
			fs.Usage()
			return exitUsage
		}
		status := exitOK
		for _, f := range files {
			cfg, err := loadConfig(f, vars)
			if err != nil {
				fmt.Fprintln(stderr, err)
				status = exitFail
				continue
			}
			ps := cfg.Validate(conf.ValidateOptions{Strict: *strict})
			printProblems(stderr, ps)
			if ps.HasErrors() {
				status = exitFail
			}
		}
		return status
	}
}

func setupShow(fs *flag.FlagSet, stdout, stderr io.Writer) func([]string) int {
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	vars := varsFlag{}
	fs.Var(vars, "var", "FreeSWITCH variable `name=value` for $${name} references (repeatable); without any, references are shown as written")
	return func(files []string) int {
		if len(files) != 1 {
			fs.Usage()
			return exitUsage
		}
		cfg, err := loadConfig(files[0], vars)
		if err != nil {
			return fail(stderr, "show", err)
		}
		ps := cfg.Validate(conf.ValidateOptions{})
		printProblems(stderr, ps)
		eff := cfg.Effective()
		if *asJSON {
			data, err := json.MarshalIndent(eff, "", "  ")
			if err != nil {
				return fail(stderr, "show", err)
			}
			fmt.Fprintf(stdout, "%s\n", data)
		} else {
			writeTable(stdout, eff)
		}
		if ps.HasErrors() {
			return exitFail
		}
		return exitOK
	}
}

// writeTable prints the effective configuration as aligned columns: param,
// value ("-" when empty), and whether it was set or is the default.
func writeTable(w io.Writer, eff conf.Effective) {
	nameW, valW := 0, 0
	all := [][]conf.EffectiveParam{eff.Settings}
	for _, p := range eff.Profiles {
		all = append(all, p.Params)
	}
	for _, ps := range all {
		for _, p := range ps {
			nameW, valW = max(nameW, len(p.Name)), max(valW, len(cell(p)))
		}
	}
	section := func(title string, params []conf.EffectiveParam) {
		fmt.Fprintln(w, title)
		for _, p := range params {
			src := "default"
			if p.Set {
				src = "set"
			}
			fmt.Fprintf(w, "  %-*s  %-*s  %s\n", nameW, p.Name, valW, cell(p), src)
		}
	}
	section("settings", eff.Settings)
	for _, p := range eff.Profiles {
		fmt.Fprintln(w)
		section(fmt.Sprintf("profile %q", p.Name), p.Params)
	}
}

func cell(p conf.EffectiveParam) string {
	if v := p.Text(); v != "" {
		return v
	}
	return "-"
}

func setupConvert(fs *flag.FlagSet, stdout, stderr io.Writer) func([]string) int {
	out := fs.String("o", "", "write the result to `FILE` instead of stdout")
	keep := fs.Bool("keep-names", false, `keep profile names; by default "default-v4" (or the first profile) becomes "default" when no profile has that name`)
	return func(files []string) int {
		if len(files) != 1 {
			fs.Usage()
			return exitUsage
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			return fail(stderr, "convert", err)
		}
		name := *out
		if name == "" {
			name = "xcc-rtc.conf.xml"
		}
		cfg, report, err := conf.Convert(files[0], data, conf.ConvertOptions{Output: name, KeepNames: *keep})
		if err != nil {
			return fail(stderr, "convert", err)
		}
		printProblems(stderr, report)
		var buf bytes.Buffer
		if _, err := cfg.WriteTo(&buf); err != nil {
			return fail(stderr, "convert", err)
		}
		if err := writeOutput(*out, buf.Bytes(), stdout, true); err != nil {
			return fail(stderr, "convert", err)
		}
		// What remains wrong in the result (a profile without rtp-ip, say).
		ps := cfg.Validate(conf.ValidateOptions{})
		printProblems(stderr, ps)
		if ps.HasErrors() {
			return exitFail
		}
		return exitOK
	}
}

func setupInit(fs *flag.FlagSet, stdout, stderr io.Writer) func([]string) int {
	out := fs.String("o", "", "write the sample to `FILE` instead of stdout")
	force := fs.Bool("force", false, "overwrite FILE if it exists")
	return func(args []string) int {
		if len(args) != 0 {
			fs.Usage()
			return exitUsage
		}
		if err := writeOutput(*out, conf.Sample(), stdout, *force); err != nil {
			return fail(stderr, "init", err)
		}
		return exitOK
	}
}

// writeOutput writes data to path, or to stdout when path is "". Without
// overwrite an existing file is left alone.
func writeOutput(path string, data []byte, stdout io.Writer, overwrite bool) error {
	if path == "" {
		_, err := stdout.Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !overwrite {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists (use --force to overwrite)", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dialJSON is the output of the dial command.
type dialJSON struct {
	Profile  string            `json:"profile"`
	User     string            `json:"user"`
	Domain   string            `json:"domain"`
	Login    string            `json:"login"`
	Sessid   string            `json:"sessid,omitempty"` // the per-socket form xrtc/u:<sessid>
	CtrlUUID string            `json:"ctrl_uuid"`
	CtrlFrom string            `json:"ctrl_uuid_from,omitempty"`
	Vars     map[string]string `json:"vars"`
	Params   map[string]string `json:"params"`
	Subject  string            `json:"subject,omitempty"`
}

func setupDial(fs *flag.FlagSet, stdout, stderr io.Writer) func([]string) int {
	config := fs.String("config", "", "xcc-rtc.conf.xml `FILE`: check the profile and resolve the NATS subject")
	domain := fs.String("domain", "", "domain for a dial string without @domain when the profile has no force-register-domain")
	vars := varsFlag{}
	fs.Var(vars, "var", "FreeSWITCH variable `name=value` for $${name} references in the config (repeatable)")
	return func(args []string) int {
		if len(args) != 1 {
			fs.Usage()
			return exitUsage
		}
		d, err := verto.ParseDialString(args[0])
		if err != nil {
			return fail(stderr, "dial", err)
		}
		out := dialJSON{Profile: d.ProfileName(), User: d.User, Domain: d.Domain, Sessid: d.Sessid, Vars: kvMap(d.Vars), Params: kvMap(d.Params)}
		out.CtrlUUID, out.CtrlFrom = d.CtrlUUID()
		if out.Domain == "" {
			out.Domain = *domain
		}
		if *config != "" {
			cfg, err := loadConfig(*config, vars)
			if err != nil {
				return fail(stderr, "dial", err)
			}
			lookup := func(name string) (verto.ProfileInfo, bool) {
				p, ok := cfg.Profile(name)
				if !ok {
					return verto.ProfileInfo{}, false
				}
				return verto.ProfileInfo{CtrlSubject: p.CtrlSubject, Domain: p.ForceRegisterDomain}, true
			}
			route, err := d.Resolve(lookup, verto.Subjects{Prefix: cfg.Settings.SubjectPrefix}, *domain)
			if err != nil {
				return fail(stderr, "dial", fmt.Errorf("%w (profiles: %v)", err, cfg.ProfileNames()))
			}
			out.Domain, out.Subject = route.Domain, route.Subject
		}
		switch {
		case d.Sessid != "":
			out.Domain = "" // one socket, whoever is logged in on it
		case out.Domain != "":
			out.Login = out.User + "@" + out.Domain
		default:
			out.Login = out.User
		}
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fail(stderr, "dial", err)
		}
		fmt.Fprintf(stdout, "%s\n", data)
		return exitOK
	}
}

// kvMap turns ordered pairs into an object; a repeated key keeps its last
// value, as the dial string's own lookups do.
func kvMap(kvs []verto.KV) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}
