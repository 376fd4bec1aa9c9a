//go:build freeswitch

/*
 * services.hh: the plain-C surface of services.c, FreeSWITCH's services
 * beside the endpoint: the "xrtc" chat interface, the xrtc_contact API,
 * the presence and FSevent event bindings, and the API commands clients run
 * (fsapi, jsapi). No switch.h here (see xrtc.hh).
 */
#ifndef XRTC_SERVICES_H
#define XRTC_SERVICES_H

#include "xrtc.hh"

/* Called by mod_xrtc.c: the load function adds the chat interface, the API
 * and the event binding to the module; shutdown unbinds. */
void xrtc_services_load(void *module_interface);
void xrtc_services_shutdown(void);

/* Which events the endpoint wants now (xrtc.EventFilter). */
void xrtc_want_events(int presence, int fs_events);

/* mod_verto's presence_ping: fire the current CHANNEL_CALLSTATE of the
 * sessions a presence channel names. */
void xrtc_presence_probe(const char *event_channel);

/* switch_api_execute / switch_json_api_execute; *out is malloc'd. */
int xrtc_api_execute(const char *cmd, const char *arg, char **out);
int xrtc_json_api_execute(const char *req, char **out);

#endif
