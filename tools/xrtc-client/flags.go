package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"xccrtc/tools/client"
)

// commonFlags are the connection and login flags of every command.
type commonFlags struct {
	urls                     []string
	login, passwd            string
	xccToken, xuiSessid      string
	sessid, sessidFile       string
	callerName, callerNumber string
	iceServers               string
	json, verbose, quiet     bool
	insecure, loopback, udp4 bool
	timeout                  time.Duration
	noReconnect              bool
	reconnectTimeout         time.Duration
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.Func("url", "XCtrl or mod_verto WebSocket `URL` (ws:// or wss://), required; give several (or a comma-separated list) for failover", func(s string) error {
		for _, u := range strings.Split(s, ",") {
			if u = strings.TrimSpace(u); u != "" {
				f.urls = append(f.urls, u)
			}
		}
		return nil
	})
	fs.StringVar(&f.login, "login", "", "login as `USER@DOMAIN`")
	fs.StringVar(&f.passwd, "passwd", "", "password")
	fs.StringVar(&f.xccToken, "xcc-token", "", "log in with this XCC token (loginParams.xcc_token)")
	fs.StringVar(&f.xuiSessid, "xui-sessid", "", "log in with this XUI session token (loginParams.xui_sessid)")
	fs.StringVar(&f.sessid, "sessid", "", "session id to use (default: from --sessid-file, else a new one)")
	fs.StringVar(&f.sessidFile, "sessid-file", "", "`FILE` keeping the session id across runs (read, or created)")
	fs.StringVar(&f.callerName, "caller-id-name", "", "caller id name (default: the login's user)")
	fs.StringVar(&f.callerNumber, "caller-id-number", "", "caller id number (default: the login's user)")
	fs.StringVar(&f.iceServers, "ice-servers", "", "comma-separated stun:/turn: `URLs` (default: host candidates only)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON on stdout")
	fs.BoolVar(&f.verbose, "v", false, "log every Verto frame to stderr")
	fs.BoolVar(&f.quiet, "q", false, "print no events on stderr")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the wss:// certificate")
	fs.BoolVar(&f.loopback, "ice-loopback", false, "use 127.0.0.1 only for media (server on this machine)")
	fs.BoolVar(&f.udp4, "udp4", false, "IPv4 UDP candidates only")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.BoolVar(&f.noReconnect, "no-reconnect", false, "end the run when the WebSocket is lost, instead of reconnecting as verto.js does")
	fs.DurationVar(&f.reconnectTimeout, "reconnect-timeout", 2*time.Minute, "give up reconnecting after this long")
}

func (f *commonFlags) options(stderr io.Writer) (client.Options, error) {
	if len(f.urls) == 0 {
		return client.Options{}, errors.New("--url is required")
	}
	if f.login == "" {
		return client.Options{}, errors.New("--login is required")
	}
	if f.passwd == "" && f.xccToken == "" && f.xuiSessid == "" {
		return client.Options{}, errors.New("one of --passwd, --xcc-token, --xui-sessid is required")
	}
	o := client.Options{
		URL: f.urls[0], URLs: f.urls[1:], Login: f.login, Passwd: f.passwd, XCCToken: f.xccToken, XUISessid: f.xuiSessid,
		Reconnect: !f.noReconnect, ReconnectTimeout: f.reconnectTimeout,
		Sessid: f.sessid, SessidFile: f.sessidFile,
		CallerIDName: f.callerName, CallerIDNumber: f.callerNumber,
		RequestTimeout: f.timeout,
	}
	if f.insecure {
		o.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for on the command line
	}
	if f.loopback {
		o.Settings = client.LoopbackSettings()
	}
	if f.udp4 {
		o.Settings.UDP4Only = true
	}
	if f.iceServers != "" {
		o.Settings.ICEServers = strings.Split(f.iceServers, ",")
	}
	if f.verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return o, nil
}

// mediaFlags are the flags of a call's audio and actions.
type mediaFlags struct {
	duration    time.Duration
	dtmf        string
	dtmfDelay   time.Duration
	tone        float64
	wav         string
	silence     bool
	codec       string
	noProbe     bool
	reloadAfter time.Duration
	reloadURL   string
	holdAfter   time.Duration
	holdFor     time.Duration
	video       bool
	videoFile   string
	videoCodec  string
}

func (f *mediaFlags) register(fs *flag.FlagSet, actions bool) {
	fs.Float64Var(&f.tone, "tone", 1000, "send a tone of `HZ`")
	fs.StringVar(&f.wav, "wav", "", "send this WAV `FILE` in a loop (16-bit PCM, any rate, resampled to 8 kHz)")
	fs.BoolVar(&f.silence, "silence", false, "send silence")
	fs.StringVar(&f.codec, "codec", "PCMU", "preferred codec: PCMU or opus (opus sends silence: no encoder)")
	fs.BoolVar(&f.noProbe, "no-probe", false, "no round-trip probes in the audio")
	fs.StringVar(&f.dtmf, "dtmf", "", "send these `DIGITS` with verto.info after answer")
	fs.DurationVar(&f.dtmfDelay, "dtmf-delay", time.Second, "when to send --dtmf after answer")
	fs.BoolVar(&f.video, "video", false, "offer or accept video (VP8, H.264) and report what comes")
	fs.StringVar(&f.videoFile, "video-file", "", "send this IVF `FILE` (VP8, or H.264) as video in a loop (implies --video)")
	fs.StringVar(&f.videoCodec, "video-codec", "VP8", "preferred video codec without --video-file: VP8 or H264")
	if !actions {
		return
	}
	fs.DurationVar(&f.duration, "duration", 0, "hang up this long after answer (default: on a signal or the far end's bye)")
	fs.DurationVar(&f.reloadAfter, "reload-after", 0, "drop the WebSocket this long after answer and reconnect with the same sessid, as a page reload")
	fs.StringVar(&f.reloadURL, "reload-url", "", "reconnect to this `URL` on --reload-after (default: the same)")
	fs.DurationVar(&f.holdAfter, "hold-after", 0, "put the call on hold this long after answer (verto.modify)")
	fs.DurationVar(&f.holdFor, "hold-for", 2*time.Second, "take the call off hold after this long")
}

func (f *mediaFlags) callOptions() (client.CallOptions, error) {
	o := client.CallOptions{
		Duration: f.duration, DTMF: f.dtmf, DTMFDelay: f.dtmfDelay, NoProbe: f.noProbe,
	}
	switch strings.ToLower(f.codec) {
	case "pcmu", "":
		o.Codec = client.CodecPCMU
	case "opus":
		o.Codec = client.CodecOpus
	default:
		return o, fmt.Errorf("--codec %q: want PCMU or opus", f.codec)
	}
	switch {
	case f.videoFile != "":
		v, err := client.VideoFile(f.videoFile)
		if err != nil {
			return o, err
		}
		o.Video = v
	case f.video:
		switch strings.ToUpper(f.videoCodec) {
		case "VP8", "":
			o.Video = client.ReceiveVideo(client.CodecVP8)
		case "H264", "H.264":
			o.Video = client.ReceiveVideo(client.CodecH264)
		default:
			return o, fmt.Errorf("--video-codec %q: want VP8 or H264", f.videoCodec)
		}
	}
	switch {
	case f.wav != "" && f.silence:
		return o, errors.New("--wav and --silence together")
	case f.wav != "":
		a, err := client.WAVFile(f.wav)
		if err != nil {
			return o, err
		}
		o.Audio = a
	case f.silence:
		o.Audio = client.Silence()
	default:
		o.Audio = client.Tone(f.tone)
	}
	return o, nil
}

// parseArgs parses flags and positional arguments in any order. It returns
// the positional arguments, and an exit code >= 0 when the command must
// stop (help, bad flags).
func parseArgs(fs *flag.FlagSet, args []string, synopsis string, npos int, stdout, stderr io.Writer) ([]string, int) {
	fs.SetOutput(io.Discard)
	printUsage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: xrtc-client %s [FLAGS]\n\nflags:\n", synopsis)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(stdout)
				return nil, exitOK
			}
			fmt.Fprintf(stderr, "xrtc-client %s: %v\n", fs.Name(), err)
			printUsage(stderr)
			return nil, exitUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != npos {
		fmt.Fprintf(stderr, "xrtc-client %s: want %d argument(s), got %d\n", fs.Name(), npos, len(pos))
		printUsage(stderr)
		return nil, exitUsage
	}
	return pos, -1
}

// setupCall turns the parsed flags of a call-making command into the client's
// and the call's options, with a console that reports the client's events.
// A bad flag value is reported on the console and gives ok == false.
func setupCall(name string, cf *commonFlags, mf *mediaFlags, ef *expectFlags, stdout, stderr io.Writer) (con *console, opts client.Options, copts client.CallOptions, ok bool) {
	con = newConsole(stdout, stderr, cf)
	var err error
	if opts, err = cf.options(stderr); err == nil {
		copts, err = mf.callOptions()
	}
	if err == nil {
		err = ef.validate()
	}
	if err != nil {
		con.errorf("%s: %v", name, err)
		return con, opts, copts, false
	}
	opts.OnEvent = con.onEvent
	return con, opts, copts, true
}
