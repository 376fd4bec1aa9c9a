package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FreeSWITCH's XML pre-processor (switch_xml.c, preprocess()), as FreeSWITCH
// runs it before it parses freeswitch.xml: a text filter, line by line, that
// knows nothing of XML. For every line, in order:
//
//  1. $${name} is replaced by the global variable's value (nothing when the
//     variable is unset), with the variables in force at that line;
//  2. a line holding <include>, </include> or <? is dropped whole;
//  3. a line holding <X-PRE-PROCESS cmd="..." data="..."/> (any case) is
//     dropped whole and the command is carried out, even inside an XML
//     comment (FreeSWITCH's vars.xml: "you can not comment out an
//     X-PRE-PROCESS line");
//  4. <!--#cmd "arg"--> is the older form of the same commands;
//  5. anything else is copied.
//
// Commands: set (a global variable), env-set (from the environment),
// include (a glob, relative to the folder of the file it is in; the first
// file's relative paths are relative to the conf folder), stun-set,
// exec-set and exec. XCtrl carries out set, env-set and include; it makes
// no STUN lookups and runs no commands: a variable that stun-set or exec-set
// would set has no value (a problem where the directory uses it), and exec's
// output is missing (a problem where it stands in the directory).

// Limits of the pre-processor. FreeSWITCH stops at includes nested 100 deep;
// the others keep a mistaken file (a glob that includes itself, a variable
// that doubles on every line) from taking the machine down.
const (
	ppMaxDepth  = 100
	ppMaxFiles  = 20000
	ppMaxOutput = 64 << 20
	ppMaxValue  = 1 << 20
)

// Pos is a place in a source file: path and 1-based line.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// PreprocessOptions configure Preprocess.
type PreprocessOptions struct {
	// ConfDir is the folder relative includes of the first file are
	// resolved against (FreeSWITCH's conf_dir); "" is the file's own folder.
	ConfDir string
	// Vars are the global variables set before the first line is read
	// (FreeSWITCH's core sets hostname, local_ip_v4, conf_dir ...). Names
	// match case-insensitively, as in FreeSWITCH.
	Vars map[string]string
	// Fixed are variables whose values win over every set, env-set,
	// stun-set and exec-set in the files (xctrl --fs-var).
	Fixed map[string]string
	// FS reads the files: paths are made absolute and given without their
	// leading slash. nil is the machine's file system (os.DirFS("/")).
	FS fs.FS
	// Getenv reads the environment for env-set; nil is os.LookupEnv.
	Getenv func(string) (string, bool)
}

// Preprocessed is the text FreeSWITCH's XML parser would receive, with the
// place every line came from.
type Preprocessed struct {
	File  string            // the first file
	Text  []byte            // the output
	Vars  map[string]string // the global variables after the last line
	Files []string          // every file read, in order

	lines []Pos // lines[i]: where output line i+1 comes from
	probs []ppProblem
}

// ppProblem is a finding with the output line it concerns (0: the whole
// run), so that a reader of one section keeps only that section's findings.
type ppProblem struct {
	out  int
	prob Problem
}

// Pos returns where output line n (1-based) comes from.
func (p *Preprocessed) Pos(n int) Pos {
	switch {
	case len(p.lines) == 0:
		return Pos{File: p.File, Line: 1}
	case n < 1:
		n = 1
	case n > len(p.lines):
		n = len(p.lines)
	}
	return p.lines[n-1]
}

// Problems returns every finding of the run, wherever it is.
func (p *Preprocessed) Problems() Problems {
	ps := make(Problems, 0, len(p.probs))
	for _, q := range p.probs {
		ps = append(ps, q.prob)
	}
	return ps
}

// problemsIn returns the findings about output lines from..to, and those
// about the whole run.
func (p *Preprocessed) problemsIn(from, to int) Problems {
	var ps Problems
	for _, q := range p.probs {
		if q.out == 0 || (q.out >= from && q.out <= to) {
			ps = append(ps, q.prob)
		}
	}
	return ps
}

// Preprocess runs FreeSWITCH's pre-processor on file. The error is non-nil
// only when file cannot be read; everything else is a problem, with the
// file and line it is about.
func Preprocess(file string, o PreprocessOptions) (*Preprocessed, error) {
	pp := &preprocessor{
		fsys:   o.FS,
		getenv: o.Getenv,
		vars:   map[string]ppVar{},
		out:    &Preprocessed{File: file},
	}
	if pp.fsys == nil {
		pp.fsys = os.DirFS("/")
		pp.abs = true
	}
	if pp.getenv == nil {
		pp.getenv = os.LookupEnv
	}
	for k, v := range o.Vars {
		pp.vars[asciiLower(k)] = ppVar{name: k, value: v}
	}
	for k, v := range o.Fixed {
		pp.vars[asciiLower(k)] = ppVar{name: k, value: v, fixed: true}
	}
	if _, err := fs.ReadFile(pp.fsys, pp.fsPath(file)); err != nil {
		return nil, fmt.Errorf("conf: %w", unwrapPathError(file, err))
	}
	cwd := o.ConfDir
	if cwd == "" {
		cwd = filepath.Dir(file)
	}
	pp.file(cwd, file, 0, Pos{File: file, Line: 1})
	pp.out.Vars = make(map[string]string, len(pp.vars))
	for _, v := range pp.vars {
		if v.why == "" {
			pp.out.Vars[v.name] = v.value
		}
	}
	return pp.out, nil
}

// ppVar is a global variable. A variable whose value XCtrl cannot know
// (stun-set, exec-set, or set from one of those) has why set.
type ppVar struct {
	name, value string
	fixed       bool
	why         string
}

type preprocessor struct {
	fsys   fs.FS
	abs    bool // fsys is the machine's: make paths absolute
	getenv func(string) (string, bool)
	vars   map[string]ppVar
	out    *Preprocessed
	buf    bytes.Buffer
	stack  []string // files being read, outermost first
	files  int
	lines  int    // newlines written so far
	full   bool   // ppMaxOutput reached: stop
	taint  string // why the line being read uses a variable without a value
}

// fsPath turns a file name as shown to the operator into a path of fsys.
func (pp *preprocessor) fsPath(name string) string {
	if pp.abs {
		if a, err := filepath.Abs(name); err == nil {
			name = a
		}
	}
	p := strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/")
	if p == "" {
		return "."
	}
	return p
}

func unwrapPathError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", name, pe.Err)
	}
	return err
}

// outLine is the output line the next write starts on.
func (pp *preprocessor) outLine() int { return pp.lines + 1 }

func (pp *preprocessor) add(sev Severity, out int, at Pos, format string, args ...any) {
	pp.out.probs = append(pp.out.probs, ppProblem{out: out, prob: Problem{File: at.File, Line: at.Line, Severity: sev,
		Message: fmt.Sprintf(format, args...)}})
}

// write copies one piece of a line to the output.
func (pp *preprocessor) write(s string, at Pos) {
	if s == "" || pp.full {
		return
	}
	if pp.buf.Len()+len(s) > ppMaxOutput {
		pp.full = true
		pp.add(SeverityError, 0, at, "the pre-processed configuration passes %d MiB: stopped here (an include that includes itself?)", ppMaxOutput>>20)
		return
	}
	if b := pp.buf.Bytes(); len(b) == 0 || b[len(b)-1] == '\n' {
		pp.out.lines = append(pp.out.lines, at)
	}
	pp.buf.WriteString(s)
	pp.lines += strings.Count(s, "\n")
	pp.out.Text = pp.buf.Bytes()
}

// file pre-processes one file; cwd resolves its relative includes.
func (pp *preprocessor) file(cwd, name string, depth int, from Pos) {
	if pp.full {
		return
	}
	data, err := fs.ReadFile(pp.fsys, pp.fsPath(name))
	if err != nil {
		pp.add(SeverityError, pp.outLine(), from, "cannot read %s: %v", name, unwrapPathError(name, err))
		return
	}
	pp.files++
	pp.out.Files = append(pp.out.Files, name)
	pp.stack = append(pp.stack, name)
	defer func() { pp.stack = pp.stack[:len(pp.stack)-1] }()

	line := 1
	inML := false // inside a multi-line <!--# ... -->
	for rest := string(data); rest != "" && !pp.full; {
		// FreeSWITCH reads "lines" that end at \r or \n (switch_fp_read_dline).
		n := strings.IndexAny(rest, "\r\n")
		if n < 0 {
			n = len(rest)
		} else {
			n++
		}
		raw := rest[:n]
		rest = rest[n:]
		at := Pos{File: name, Line: line}
		if strings.HasSuffix(raw, "\n") || (strings.HasSuffix(raw, "\r") && !strings.HasPrefix(rest, "\n")) {
			line++
		}
		bp := pp.expand(raw, at)

		if strings.Contains(raw, "<include>") || strings.Contains(raw, "</include>") || strings.Contains(raw, "<?") {
			pp.dropped(raw, at)
			continue
		}
		if inML {
			e := strings.Index(bp, "-->")
			if e < 0 {
				continue
			}
			inML = false
			bp = bp[e+3:]
		}
		if i := indexFold(bp, "x-pre-process"); i >= 0 {
			if i == 0 || bp[i-1] != '<' {
				continue // FreeSWITCH drops the line (<XX-PRE-PROCESS ...>: switched off)
			}
			tag := bp[i:]
			if e := strings.Index(tag, "/>"); e >= 0 {
				tag = tag[:e+2]
			}
			cmd, data, ok := ppAttrs(tag)
			if !ok {
				pp.add(SeverityWarning, pp.outLine(), at, "<%s> without cmd=\"...\" and data=\"...\" (in double quotes): FreeSWITCH drops the line", bp[i:i+13])
				continue
			}
			pp.command(cmd, data, cwd, depth, at, false)
			continue
		}
		if c := strings.Index(bp, "<!--#"); c >= 0 {
			pp.write(bp[:c], at)
			cmd := bp[c+5:]
			if e := strings.Index(cmd, "-->"); e >= 0 {
				pp.write(cmd[e+3:], at)
				cmd = cmd[:e]
			} else {
				inML = true
			}
			if e := strings.IndexAny(cmd, "\r\n"); e >= 0 {
				cmd = cmd[:e]
			}
			if sp := strings.IndexByte(cmd, ' '); sp >= 0 {
				arg := cmd[sp+1:]
				cmd = cmd[:sp]
				if q := strings.IndexByte(arg, '"'); q >= 0 {
					if qq := strings.IndexByte(arg[q+1:], '"'); qq >= 0 {
						arg = arg[q+1 : q+1+qq]
					}
				}
				pp.command(cmd, arg, cwd, depth, at, true)
			}
			continue
		}
		pp.write(bp, at)
	}
}

// dropped reports a dropped line that held more than <include>,
// </include> or an XML declaration: FreeSWITCH drops it all.
func (pp *preprocessor) dropped(raw string, at Pos) {
	s := strings.NewReplacer("<include>", "", "</include>", "").Replace(raw)
	if i := strings.Index(s, "<?"); i >= 0 {
		if e := strings.Index(s[i:], "?>"); e >= 0 {
			s = s[:i] + s[i+e+2:]
		}
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "<!--") && strings.HasSuffix(s, "-->") {
		return
	}
	pp.add(SeverityWarning, pp.outLine(), at, "FreeSWITCH's pre-processor drops this whole line (it holds <include>, </include> or <?): %q is lost", clip(s, 60))
}

// command carries out one pre-processor command, of an <X-PRE-PROCESS>
// element or (old) of a <!--#cmd arg--> comment, which knows no env-set.
func (pp *preprocessor) command(cmd, data, cwd string, depth int, at Pos, old bool) {
	out := pp.outLine()
	what := `X-PRE-PROCESS cmd="` + cmd + `"`
	lc := asciiLower(cmd)
	if old {
		what = "<!--#" + cmd
		if lc == "env-set" {
			lc = "" // not a command in this form
		}
	}
	switch lc {
	case "set":
		name, val, ok := splitSet(data)
		if !ok {
			pp.add(SeverityWarning, out, at, "%s data=%q: no name=value, nothing set", what, data)
			return
		}
		pp.set(name, val, at, "")
	case "env-set":
		name, val, ok := strings.Cut(data, "=")
		if !ok || !strings.HasPrefix(val, "$") {
			pp.add(SeverityWarning, out, at, "%s data=%q: want name=$ENVIRONMENT_VARIABLE, nothing set", what, data)
			return
		}
		if v, ok := pp.getenv(val[1:]); ok {
			pp.set(name, v, at, "")
		}
	case "stun-set", "exec-set":
		name, _, ok := splitSet(data)
		if !ok {
			return
		}
		why := "it is set by a STUN lookup (stun-set), which XCtrl does not make"
		if strings.EqualFold(cmd, "exec-set") {
			why = "it is set from a command's output (exec-set), and XCtrl runs no commands"
		}
		pp.set(name, "", at, fmt.Sprintf("%s at %s", why, at))
	case "include":
		pp.include(cwd, data, depth+1, at)
	case "exec":
		pp.add(SeverityError, out, at, "%s data=%q: FreeSWITCH inserts a command's output here; XCtrl runs no commands, so it is missing "+
			"(ask FreeSWITCH instead: xctrl --user-lookup node)", what, data)
	default:
		pp.add(SeverityWarning, out, at, "%s is no pre-processor command FreeSWITCH knows (set, env-set, include, stun-set, exec-set, exec; no env-set in <!--# -->): it ignores it", what)
	}
}

// splitSet splits "name = value" as FreeSWITCH's set does: spaces before
// the = and after it go.
func splitSet(data string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(data, "=")
	if !ok {
		return "", "", false
	}
	return strings.TrimRight(name, " "), strings.TrimLeft(value, " "), true
}

func (pp *preprocessor) set(name, value string, at Pos, why string) {
	key := asciiLower(name)
	if pp.vars[key].fixed {
		return
	}
	if len(value) > ppMaxValue {
		pp.add(SeverityError, pp.outLine(), at, "variable %q: value longer than %d KiB, not set", name, ppMaxValue>>10)
		return
	}
	if why == "" {
		why = pp.taint
	}
	pp.vars[key] = ppVar{name: name, value: value, why: why}
}

// include pre-processes every file pattern matches, in order.
func (pp *preprocessor) include(cwd, pattern string, depth int, at Pos) {
	out := pp.outLine()
	if depth > ppMaxDepth {
		pp.add(SeverityError, out, at, "include %q: includes nested deeper than %d (FreeSWITCH's limit)", pattern, ppMaxDepth)
		return
	}
	full := pattern
	if !strings.HasPrefix(pattern, "/") && !strings.Contains(pattern, "://") {
		full = filepath.Join(cwd, pattern)
	}
	matches, err := pp.glob(full)
	if err != nil {
		pp.add(SeverityError, out, at, "include %q: %v", pattern, err)
		return
	}
	if len(matches) == 0 {
		pp.add(SeverityWarning, out, at, "include %q: no file matches %s", pattern, full)
		return
	}
	for _, m := range matches {
		for i, open := range pp.stack {
			if open == m {
				pp.add(SeverityError, out, at, "include %q: %s includes itself (%s)", pattern, m, strings.Join(append(pp.stack[i:], m), " -> "))
				return
			}
		}
		if pp.files >= ppMaxFiles {
			pp.add(SeverityError, out, at, "include %q: more than %d files read: stopped", pattern, ppMaxFiles)
			pp.full = true
			return
		}
		pp.file(filepath.Dir(m), m, depth, at)
	}
}

// glob expands pattern as the C library's glob(3) does for FreeSWITCH:
// matches sorted, folders searched one level at a time, names starting
// with a dot matched only by a pattern that starts with one.
func (pp *preprocessor) glob(pattern string) ([]string, error) {
	clean := filepath.Clean(pattern)
	if !hasGlobMeta(clean) {
		if st, err := fs.Stat(pp.fsys, pp.fsPath(clean)); err != nil || st.IsDir() {
			return nil, nil
		}
		return []string{clean}, nil
	}
	root, parts := "", strings.Split(filepath.ToSlash(clean), "/")
	if strings.HasPrefix(clean, "/") {
		root, parts = "/", parts[1:]
	}
	cur := []string{root}
	for i, part := range parts {
		last := i == len(parts)-1
		var next []string
		for _, dir := range cur {
			if !hasGlobMeta(part) {
				next = append(next, joinGlob(dir, part))
				continue
			}
			pat := part
			if strings.HasPrefix(pat, "[!") {
				pat = "[^" + pat[2:]
			}
			pat = strings.ReplaceAll(pat, "[!", "[^")
			if _, err := path.Match(pat, ""); err != nil {
				return nil, fmt.Errorf("bad pattern %q", part)
			}
			dirPath := dir
			if dirPath == "" {
				dirPath = "."
			}
			entries, err := fs.ReadDir(pp.fsys, pp.fsPath(dirPath))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, unwrapPathError(dirPath, err)
			}
			for _, e := range entries {
				n := e.Name()
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				if ok, _ := path.Match(pat, n); ok {
					next = append(next, joinGlob(dir, n))
				}
			}
		}
		if last {
			var files []string
			for _, f := range next {
				if st, err := fs.Stat(pp.fsys, pp.fsPath(f)); err == nil && !st.IsDir() {
					files = append(files, f)
				}
			}
			return files, nil
		}
		cur = next
	}
	return nil, nil
}

func joinGlob(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// expand replaces $${name} as FreeSWITCH's expand_vars does. A name
// without a value becomes nothing. pp.taint says why, when a name used has
// no value XCtrl can know.
func (pp *preprocessor) expand(line string, at Pos) string {
	pp.taint = ""
	if !strings.Contains(line, "$${") {
		return line
	}
	var b strings.Builder
	warned := false
	seen := map[string]bool{} // one warning per name and line
	for i := 0; i < len(line); {
		if strings.HasPrefix(line[i:], "$${") {
			if e := findEndBrace(line, i+2); e >= 0 {
				name := line[i+3 : e]
				v, ok := pp.vars[asciiLower(name)]
				first := !seen[asciiLower(name)]
				seen[asciiLower(name)] = true
				switch {
				case !first:
				case !ok:
					pp.taint = fmt.Sprintf("$${%s} has no value at %s", name, at)
					pp.add(SeverityWarning, pp.outLine(), at, "$${%s} has no value: FreeSWITCH puts nothing here (set it in the files, or give it with --fs-var %s=VALUE)", name, name)
				case v.why != "":
					pp.taint = fmt.Sprintf("$${%s} has no value at %s: %s", name, at, v.why)
					pp.add(SeverityWarning, pp.outLine(), at, "$${%s} has no value here: %s (give it with --fs-var %s=VALUE)", name, v.why, name)
				}
				b.WriteString(v.value)
				i = e + 1
				continue
			}
			if !warned {
				warned = true
				pp.add(SeverityWarning, pp.outLine(), at, "unterminated $${ (no closing }): kept as written")
			}
		}
		b.WriteByte(line[i])
		i++
	}
	return b.String()
}

// findEndBrace returns the index of the } that closes the { at open, or -1
// (switch_find_end_paren).
func findEndBrace(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// ppAttrs reads cmd="..." and data="..." after <X-PRE-PROCESS the way
// FreeSWITCH does: the first "cmd", then =, then a double-quoted value; then
// "data" the same way.
func ppAttrs(tag string) (cmd, data string, ok bool) {
	quoted := func(s, key string) (val, rest string, ok bool) {
		i := indexFold(s, key)
		if i < 0 {
			return "", "", false
		}
		s = s[i+len(key):]
		if i = strings.IndexByte(s, '='); i < 0 {
			return "", "", false
		}
		s = s[i:]
		if i = strings.IndexByte(s, '"'); i < 0 {
			return "", "", false
		}
		s = s[i+1:]
		if i = strings.IndexByte(s, '"'); i < 0 {
			return s, "", true
		}
		return s[:i], s[i+1:], true
	}
	cmd, rest, ok := quoted(tag, "cmd")
	if !ok || rest == "" {
		return "", "", false
	}
	data, _, ok = quoted(rest, "data")
	return cmd, data, ok
}

// indexFold is strings.Index, ASCII case-insensitive (switch_stristr);
// sub must be lower case.
func indexFold(s, sub string) int {
	n := len(sub)
next:
	for i := 0; i+n <= len(s); i++ {
		for j := 0; j < n; j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				continue next
			}
		}
		return i
	}
	return -1
}

// asciiLower lower-cases ASCII letters only, as strcasecmp compares.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
