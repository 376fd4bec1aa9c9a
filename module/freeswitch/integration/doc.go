// Package integration holds the real-FreeSWITCH tests of mod_xrtc. They are
// behind the freeswitch build tag (make test-freeswitch) and skip, saying
// why, when FreeSWITCH is missing: they build and install the module, start
// a FreeSWITCH of their own (its own conf, log, db and run folders, the
// installation's modules), load mod_xrtc against an embedded NATS, and make
// real calls through XCtrl with the pion client.
package integration
