//go:build freeswitch

/*
 * services.c: what mod_xrtc offers FreeSWITCH beside the endpoint, after
 * mod_verto (chat_send, verto_contact_function, presence_event_handler,
 * event_handler, presence_ping, fsapi_func, jsapi_func, the msg branch of
 * verto__info_func). Only the mapping lives here; the endpoint (Go) decides.
 */

#include <switch.h>
#include "services.hh"
#include "_cgo_export.h"

#define XRTC_CHAT_PROTO "xrtc"

static struct {
	/* what the endpoint wants (xrtc_want_events) */
	volatile int presence;
	volatile int fs_events;
	int bound;
} svc;

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------------------
 * Chat: a client's message into FreeSWITCH, FreeSWITCH's to clients
 * ---------------------------------------------------------------------- */

/* verto.info msg: a MESSAGE event, as mod_verto's verto__info_func makes
 * it, with our chat protocol as its proto (a reply comes back to us) and
 * the user's context (the chat plan runs there). A "proto+to" address goes
 * to that chat interface too. */
int xrtc_send_chat(const xrtc_chat_t *chat)
{
	switch_event_t *event;
	const char *to = chat->to, *proto = XRTC_CHAT_PROTO;
	char *pproto = NULL, *p, *from_user = NULL, *from_host = NULL;
	int i;

	if (zstr(to) || zstr(chat->body)) {
		return XRTC_FAIL;
	}
	if (strchr(to, '+')) {
		pproto = strdup(to);
		p = strchr(pproto, '+');
		*p++ = '\0';
		proto = pproto;
		to = p;
	}
	if (zstr(to) || switch_event_create(&event, SWITCH_EVENT_MESSAGE) != SWITCH_STATUS_SUCCESS) {
		switch_safe_free(pproto);
		return XRTC_FAIL;
	}
	if (!zstr(chat->from)) {
		from_user = strdup(chat->from);
		if ((from_host = strchr(from_user, '@'))) {
			*from_host++ = '\0';
		}
	}
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "proto", XRTC_CHAT_PROTO);
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "from", nz(chat->from));
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "from_user", nz(from_user));
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "from_host", nz(from_host));
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "to", to);
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "type", "text/plain");
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "from_full", nz(from_user));
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "verto_profile", nz(chat->profile));
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "verto_jsock_uuid", nz(chat->sessid));
	for (i = 0; i < chat->headers.count; i++) {
		if (!zstr(chat->headers.names[i]) && !zstr(chat->headers.values[i])) {
			switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, chat->headers.names[i], chat->headers.values[i]);
		}
	}
	if (chat->in_dialog && !zstr(chat->call_id)) {
		switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "call_id", chat->call_id);
	}
	switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "context", nz(chat->context));
	switch_event_add_body(event, "%s", chat->body);

	if (strcasecmp(proto, XRTC_CHAT_PROTO)) {
		switch_core_chat_send(proto, event);
	}
	if (chat->in_dialog && !zstr(chat->call_id)) {
		switch_core_session_t *session;
		if ((session = switch_core_session_locate(chat->call_id))) {
			switch_core_session_queue_event(session, &event);
			switch_core_session_rwunlock(session);
		}
	} else {
		switch_core_chat_send("GLOBAL", event);
	}
	if (event) {
		switch_event_destroy(&event);
	}
	switch_safe_free(pproto);
	switch_safe_free(from_user);
	return XRTC_OK;
}

/* The "xrtc" chat interface (mod_verto's chat_send): `chat xrtc|from|to|body`,
 * the chat plan's send, a SIP MESSAGE to xrtc+user, mod_conference's chat to
 * members whose chat_proto is xrtc. The endpoint finds the user's sockets on
 * whichever XCtrl holds them. */
static switch_status_t xrtc_chat_send(switch_event_t *message_event)
{
	const char *to = switch_event_get_header(message_event, "to");
	const char *from = switch_event_get_header(message_event, "from");
	const char *body = switch_event_get_body(message_event);
	const char *call_id = switch_event_get_header(message_event, "call_id");
	switch_event_header_t *hp;
	xrtc_vars_t headers = { 0 };
	int n = 0, r;

	if (zstr(to) || zstr(body) || zstr(from)) {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR, "xrtc: chat: INVALID EVENT (to, from and body are required)\n");
		DUMP_EVENT(message_event);
		return SWITCH_STATUS_FALSE;
	}
	for (hp = message_event->headers; hp; hp = hp->next) {
		n++;
	}
	if (n) {
		headers.names = malloc(sizeof(char *) * n);
		headers.values = malloc(sizeof(char *) * n);
		switch_assert(headers.names && headers.values);
		for (hp = message_event->headers; hp; hp = hp->next) {
			if (hp->name && hp->value && (!strncasecmp(hp->name, "from_", 5) || !strncasecmp(hp->name, "to_", 3))) {
				headers.names[headers.count] = hp->name;
				headers.values[headers.count] = hp->value;
				headers.count++;
			}
		}
	}
	r = xrtcGoChatSend((char *) from, (char *) to, (char *) body, (char *) nz(call_id), &headers);
	switch_safe_free(headers.names);
	switch_safe_free(headers.values);
	return r == XRTC_OK ? SWITCH_STATUS_SUCCESS : SWITCH_STATUS_FALSE;
}

/* ------------------------------------------------------------------------
 * xrtc_contact: mod_verto's verto_contact
 * ---------------------------------------------------------------------- */

SWITCH_STANDARD_API(xrtc_contact_api)
{
	char *out = xrtcGoContact((char *) nz(cmd));

	stream->write_function(stream, "%s", out ? out : "error/network_out_of_order");
	free(out);
	return SWITCH_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Presence and FSevent channels
 * ---------------------------------------------------------------------- */

void xrtc_want_events(int presence, int fs_events)
{
	svc.presence = presence;
	svc.fs_events = fs_events;
}

/* Every event passes here; only what the endpoint wants goes to Go, as JSON
 * (mod_verto's presence_event_handler and event_handler). */
static void xrtc_event_handler(switch_event_t *event)
{
	char *json = NULL;
	const char *subclass;

	if (!(svc.fs_events || (svc.presence && event->event_id == SWITCH_EVENT_CHANNEL_CALLSTATE))) {
		return;
	}
	if (switch_event_serialize_json(event, &json) != SWITCH_STATUS_SUCCESS || !json) {
		return;
	}
	subclass = event->event_id == SWITCH_EVENT_CUSTOM ? switch_event_get_header(event, "Event-Subclass") : NULL;
	xrtcGoSwitchEvent((char *) switch_event_name(event->event_id), (char *) nz(subclass), json);
	free(json);
}

/* mod_verto's presence_ping: a new presence subscription hears the current
 * call state of the sessions it names ("presence": every session with a
 * presence_id). */
void xrtc_presence_probe(const char *event_channel)
{
	switch_console_callback_match_t *matches;
	switch_console_callback_match_node_t *m;
	const char *val = event_channel, *p;

	if (val) {
		if (!strcasecmp(val, "presence")) {
			val = NULL;
		} else if ((p = strchr(val, '.'))) {
			val = p + 1;
		}
	}
	if (!(matches = switch_core_session_findall_matching_var("presence_id", val))) {
		return;
	}
	for (m = matches->head; m; m = m->next) {
		switch_core_session_t *session;
		switch_event_t *event;

		if (!(session = switch_core_session_locate(m->val))) {
			continue;
		}
		if (switch_event_create(&event, SWITCH_EVENT_CHANNEL_CALLSTATE) == SWITCH_STATUS_SUCCESS) {
			switch_channel_t *channel = switch_core_session_get_channel(session);
			switch_channel_callstate_t callstate = switch_channel_get_callstate(channel);

			switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "Original-Channel-Call-State", switch_channel_callstate2str(callstate));
			switch_event_add_header(event, SWITCH_STACK_BOTTOM, "Channel-Call-State-Number", "%d", callstate);
			switch_channel_event_set_data(channel, event);
			switch_event_fire(&event);
		}
		switch_core_session_rwunlock(session);
	}
	switch_console_free_matches(&matches);
}

/* ------------------------------------------------------------------------
 * fsapi and jsapi (the endpoint checked the user's lists)
 * ---------------------------------------------------------------------- */

int xrtc_api_execute(const char *cmd, const char *arg, char **out)
{
	switch_stream_handle_t stream = { 0 };
	switch_status_t status;

	SWITCH_STANDARD_STREAM(stream);
	status = switch_api_execute(cmd, zstr(arg) ? NULL : arg, NULL, &stream);
	*out = stream.data ? (char *) stream.data : strdup("");
	return status == SWITCH_STATUS_SUCCESS ? XRTC_OK : XRTC_FAIL;
}

int xrtc_json_api_execute(const char *req, char **out)
{
	cJSON *json, *reply = NULL;

	*out = NULL;
	if (!(json = cJSON_Parse(req))) {
		return XRTC_FAIL;
	}
	switch_json_api_execute(json, NULL, &reply);
	cJSON_Delete(json);
	if (!reply) {
		return XRTC_NOT_SUPPORTED; /* no such command, or no data */
	}
	*out = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	return *out ? XRTC_OK : XRTC_FAIL;
}

/* ------------------------------------------------------------------------
 * Load and shutdown
 * ---------------------------------------------------------------------- */

void xrtc_services_load(void *mod)
{
	switch_loadable_module_interface_t *mi = (switch_loadable_module_interface_t *) mod;
	switch_loadable_module_interface_t **module_interface = &mi; /* the SWITCH_ADD_* macros' name */
	switch_chat_interface_t *chat_interface;
	switch_api_interface_t *api_interface;

	SWITCH_ADD_CHAT(chat_interface, XRTC_CHAT_PROTO, xrtc_chat_send);
	SWITCH_ADD_API(api_interface, "xrtc_contact", "the dial strings of a WebRTC user's sockets (xrtc/u:<sessid>,...)",
				   xrtc_contact_api, "[profile/]user[@domain]");
	if (switch_event_bind("mod_xrtc", SWITCH_EVENT_ALL, SWITCH_EVENT_SUBCLASS_ANY, xrtc_event_handler, NULL) == SWITCH_STATUS_SUCCESS) {
		svc.bound = 1;
	} else {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR, "xrtc: cannot bind to events: no presence or FSevent channels\n");
	}
}

void xrtc_services_shutdown(void)
{
	svc.presence = svc.fs_events = 0;
	if (svc.bound) {
		switch_event_unbind_callback(xrtc_event_handler);
		svc.bound = 0;
	}
}
