//go:build freeswitch

/*
 * xrtc_ext.c: the parts of the xrtc endpoint that mod_verto keeps beside its
 * media, on FreeSWITCH's API: real-time text (enable-text), the call
 * identity its messages carry (set_call_params), the attended transfer of
 * verto.modify replace, the secondary recovery callback (fsctl recover) and
 * the uuid_send_prompt API. As in mod_xrtc.c, the Verto side is Go's: these
 * functions read or change FreeSWITCH and call the Go exports.
 */

#include <switch.h>
#include "xrtc.hh"
#include "_cgo_export.h"

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------------------
 * The call's identity (mod_verto's set_call_params and add_variables)
 * ---------------------------------------------------------------------- */

/* The identity of a channel as JSON (malloc'd): caller and callee ids as
 * the channel has them now, its direction, its verto_h_* and verto_svar_*
 * variables. */
char *xrtc_identity_json(void *vchannel)
{
	switch_channel_t *channel = (switch_channel_t *) vchannel;
	cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateObject(), *v = cJSON_CreateObject();
	const char *names[] = { "caller_id_name", "caller_id_number", "callee_id_name", "callee_id_number" };
	switch_event_header_t *hi;
	char *text;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *val = switch_channel_get_variable(channel, names[i]);
		if (val) {
			cJSON_AddItemToObject(o, names[i], cJSON_CreateString(val));
		}
	}
	cJSON_AddItemToObject(o, "display_direction",
						  cJSON_CreateString(switch_channel_direction(channel) == SWITCH_CALL_DIRECTION_OUTBOUND ? "outbound" : "inbound"));
	for (hi = switch_channel_variable_first(channel); hi; hi = hi->next) {
		if (!strncasecmp(hi->name, "verto_h_", 8)) {
			cJSON_AddItemToObject(h, hi->name, cJSON_CreateString(nz(hi->value)));
		} else if (!strncmp(hi->name, "verto_svar_", 11)) {
			cJSON_AddItemToObject(v, hi->name, cJSON_CreateString(nz(hi->value)));
		}
	}
	switch_channel_variable_last(channel);
	cJSON_AddItemToObject(o, "headers", h);
	cJSON_AddItemToObject(o, "variables", v);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* The identity of the channel with that UUID, or NULL. */
char *xrtc_identity(const char *uuid)
{
	switch_core_session_t *session;
	char *out;

	if (zstr(uuid) || !(session = switch_core_session_locate(uuid))) {
		return NULL;
	}
	out = xrtc_identity_json(switch_core_session_get_channel(session));
	switch_core_session_rwunlock(session);
	return out;
}

/* ------------------------------------------------------------------------
 * Real-time text (mod_verto's set_text_funcs, verto_read_text_frame,
 * verto_write_text_frame): the client's verto.info txt is read by the text
 * thread; what FreeSWITCH writes goes to the client as verto.info txt. The
 * state hangs on the channel as a private named "xrtc_text".
 * ---------------------------------------------------------------------- */

#define XRTC_TEXT_KEY "xrtc_text"
#define XRTC_TEXT_CHUNK 100

typedef struct {
	switch_buffer_t *read_buffer;
	switch_buffer_t *write_buffer;
	switch_mutex_t *read_mutex;
	switch_mutex_t *write_mutex;
	switch_mutex_t *cond_mutex;
	switch_thread_cond_t *cond;
	switch_frame_t read_frame;
	switch_byte_t read_frame_data[SWITCH_RTP_MAX_BUF_LEN];
} xrtc_text_t;

static xrtc_text_t *text_of(switch_core_session_t *session)
{
	return (xrtc_text_t *) switch_channel_get_private(switch_core_session_get_channel(session), XRTC_TEXT_KEY);
}

static switch_status_t xrtc_read_text_frame(switch_core_session_t *session, switch_frame_t **frame, switch_io_flag_t flags, int stream_id)
{
	xrtc_text_t *t = text_of(session);
	switch_status_t status;

	if (!t) {
		return SWITCH_STATUS_FALSE;
	}
	switch_mutex_lock(t->cond_mutex);
	switch_thread_cond_timedwait(t->cond, t->cond_mutex, 100000);
	switch_mutex_unlock(t->cond_mutex);

	*frame = &t->read_frame;
	(*frame)->flags = 0;
	switch_mutex_lock(t->read_mutex);
	if (switch_buffer_inuse(t->read_buffer)) {
		status = SWITCH_STATUS_SUCCESS;
		t->read_frame.datalen = (uint32_t) switch_buffer_read(t->read_buffer, t->read_frame.data, XRTC_TEXT_CHUNK);
	} else {
		(*frame)->flags |= SFF_CNG;
		t->read_frame.datalen = 2;
		status = SWITCH_STATUS_BREAK;
	}
	switch_mutex_unlock(t->read_mutex);
	return status;
}

static switch_status_t xrtc_write_text_frame(switch_core_session_t *session, switch_frame_t *frame, switch_io_flag_t flags, int stream_id)
{
	xrtc_text_t *t = text_of(session);
	switch_byte_t data[XRTC_TEXT_CHUNK + 1];
	switch_size_t n;

	if (!t) {
		return SWITCH_STATUS_FALSE;
	}
	switch_mutex_lock(t->write_mutex);
	if (frame && frame->data && frame->datalen) {
		switch_buffer_write(t->write_buffer, frame->data, frame->datalen);
	}
	if (switch_buffer_inuse(t->write_buffer) && (n = switch_buffer_read(t->write_buffer, data, XRTC_TEXT_CHUNK))) {
		data[n] = '\0';
		xrtcGoChannelText((char *) switch_core_session_get_uuid(session), (char *) data);
	}
	switch_mutex_unlock(t->write_mutex);
	return SWITCH_STATUS_SUCCESS;
}

static switch_io_routines_t xrtc_text_io = {
	/*.outgoing_channel */ NULL,
	/*.read_frame */ NULL,
	/*.write_frame */ NULL,
	/*.kill_channel */ NULL,
	/*.send_dtmf */ NULL,
	/*.receive_message */ NULL,
	/*.receive_event */ NULL,
	/*.state_change */ NULL,
	/*.read_video_frame */ NULL,
	/*.write_video_frame */ NULL,
	/*.read_text_frame */ xrtc_read_text_frame,
	/*.write_text_frame */ xrtc_write_text_frame,
	/*.state_run */ NULL,
	/*.get_jb */ NULL
};

/* Turns real-time text on for a channel (its profile has enable-text):
 * buffers, the io routines and the text thread. */
int xrtc_text_enable(void *vsession)
{
	switch_core_session_t *session = (switch_core_session_t *) vsession;
	switch_channel_t *channel = switch_core_session_get_channel(session);
	switch_memory_pool_t *pool = switch_core_session_get_pool(session);
	xrtc_text_t *t;

	if (text_of(session)) {
		return XRTC_OK;
	}
	if (switch_core_session_override_io_routines(session, &xrtc_text_io) != SWITCH_STATUS_SUCCESS) {
		return XRTC_FAIL;
	}
	t = switch_core_session_alloc(session, sizeof(*t));
	t->read_frame.data = t->read_frame_data;
	switch_mutex_init(&t->read_mutex, SWITCH_MUTEX_NESTED, pool);
	switch_mutex_init(&t->write_mutex, SWITCH_MUTEX_NESTED, pool);
	switch_mutex_init(&t->cond_mutex, SWITCH_MUTEX_NESTED, pool);
	switch_thread_cond_create(&t->cond, pool);
	switch_buffer_create_dynamic(&t->read_buffer, 512, 1024, 0);
	switch_buffer_create_dynamic(&t->write_buffer, 512, 1024, 0);
	switch_channel_set_private(channel, XRTC_TEXT_KEY, t);
	switch_channel_set_flag(channel, CF_HAS_TEXT);
	switch_core_session_start_text_thread(session);
	return XRTC_OK;
}

/* Frees a channel's text buffers (on_destroy). */
void xrtc_text_destroy(void *vsession)
{
	switch_core_session_t *session = (switch_core_session_t *) vsession;
	xrtc_text_t *t = text_of(session);

	if (t) {
		switch_channel_set_private(switch_core_session_get_channel(session), XRTC_TEXT_KEY, NULL);
		switch_buffer_destroy(&t->read_buffer);
		switch_buffer_destroy(&t->write_buffer);
	}
}

/* The client's text (verto.info txt) for the text thread to read. */
int xrtc_send_text(const char *uuid, const char *chars)
{
	switch_core_session_t *session;
	xrtc_text_t *t;
	int r = XRTC_OK;

	if (zstr(uuid) || !(session = switch_core_session_locate(uuid))) {
		return XRTC_GONE;
	}
	if (!(t = text_of(session))) {
		r = XRTC_NOT_SUPPORTED;
	} else if (!zstr(chars)) {
		switch_mutex_lock(t->read_mutex);
		switch_buffer_write(t->read_buffer, chars, strlen(chars));
		switch_mutex_unlock(t->read_mutex);
		if (switch_mutex_trylock(t->cond_mutex) == SWITCH_STATUS_SUCCESS) {
			switch_thread_cond_signal(t->cond);
			switch_mutex_unlock(t->cond_mutex);
		}
	}
	switch_core_session_rwunlock(session);
	return r;
}

/* ------------------------------------------------------------------------
 * verto.modify replace: mod_verto's attended_transfer, with any session
 * FreeSWITCH knows as the other leg.
 * ---------------------------------------------------------------------- */

/* The other leg, hung up when the transferring leg hangs up (a transfer to
 * a leg that was still being originated). */
static switch_status_t xfer_hanguphook(switch_core_session_t *session)
{
	switch_channel_t *channel = switch_core_session_get_channel(session);

	if (switch_channel_get_state(channel) == CS_HANGUP) {
		const char *uuid = switch_channel_get_variable(channel, "att_xfer_kill_uuid");
		switch_core_session_t *ksession;

		if (uuid && (ksession = switch_core_session_force_locate(uuid))) {
			switch_channel_t *kchannel = switch_core_session_get_channel(ksession);
			switch_channel_clear_flag(kchannel, CF_XFER_ZOMBIE);
			switch_channel_clear_flag(kchannel, CF_TRANSFER);
			if (switch_channel_up(kchannel)) {
				switch_channel_hangup(kchannel, SWITCH_CAUSE_NORMAL_CLEARING);
			}
			switch_core_session_rwunlock(ksession);
		}
		switch_core_event_hook_remove_state_change(session, xfer_hanguphook);
	}
	return SWITCH_STATUS_SUCCESS;
}

/* The transfer history of a bridged leg (mod_verto's mark_transfer_record). */
static void mark_transfer(switch_channel_t *channel, const char *leg)
{
	switch_core_session_t *s;
	switch_channel_t *c;
	switch_caller_profile_t *cp;
	int in;

	if (!leg || !(s = switch_core_session_locate(leg))) {
		return;
	}
	c = switch_core_session_get_channel(s);
	cp = switch_channel_get_caller_profile(c);
	in = switch_channel_direction(c) == SWITCH_CALL_DIRECTION_INBOUND;
	cp->transfer_source = switch_core_sprintf(cp->pool, "%ld:%s:att_xfer:%s@%s/%s@%s", (long) switch_epoch_time_now(NULL), cp->uuid_str,
											  nz(switch_channel_get_variable(channel, "verto_user")),
											  nz(switch_channel_get_variable(channel, "verto_host")),
											  nz(switch_channel_get_variable(c, in ? "sip_from_user" : "sip_to_user")),
											  nz(switch_channel_get_variable(c, in ? "sip_from_host" : "sip_to_host")));
	switch_channel_add_variable_var_check(c, SWITCH_TRANSFER_HISTORY_VARIABLE, cp->transfer_source, SWITCH_FALSE, SWITCH_STACK_PUSH);
	switch_channel_set_variable(c, SWITCH_TRANSFER_SOURCE_VARIABLE, cp->transfer_source);
	switch_core_session_rwunlock(s);
}

/* A is the xrtc call that asks, B the session it replaces. */
static int attended_transfer(switch_core_session_t *a, switch_core_session_t *b)
{
	switch_channel_t *ach = switch_core_session_get_channel(a), *bch = switch_core_session_get_channel(b);
	const char *br_a, *br_b;
	switch_core_session_t *s;

	switch_channel_set_variable(ach, "refer_uuid", switch_core_session_get_uuid(b));
	switch_channel_set_variable(ach, "transfer_disposition", "recv_replace");
	switch_channel_set_variable(bch, "transfer_disposition", "replaced");
	br_a = switch_channel_get_partner_uuid(ach);
	br_b = switch_channel_get_partner_uuid(bch);
	if (br_a && !switch_ivr_uuid_exists(br_a)) {
		br_a = NULL;
	}
	if (br_b && !switch_ivr_uuid_exists(br_b)) {
		br_b = NULL;
	}

	if (switch_channel_test_flag(bch, CF_ORIGINATOR)) {
		/* B is still calling out: A's partner waits with music, B goes
		 * on as a zombie that bridges it when its call is answered. */
		const char *moh = "local_stream://moh", *tmp;
		switch_caller_profile_t *prof = switch_channel_get_caller_profile(bch);

		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(a), SWITCH_LOG_NOTICE, "Attended Transfer on originating session %s\n", switch_core_session_get_uuid(b));
		switch_channel_set_variable_printf(bch, "transfer_to", "satt:%s", nz(br_a));
		switch_channel_set_variable(bch, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "ATTENDED_TRANSFER");
		switch_channel_clear_flag(bch, CF_LEG_HOLDING);
		switch_channel_set_variable(bch, SWITCH_HOLDING_UUID_VARIABLE, br_a);
		switch_channel_set_flag(bch, CF_XFER_ZOMBIE);
		switch_channel_set_flag(bch, CF_TRANSFER);
		if (!br_a || !(s = switch_core_session_locate(br_a))) {
			return XRTC_FAIL;
		}
		switch_core_event_hook_add_state_change(s, xfer_hanguphook);
		switch_channel_set_variable(switch_core_session_get_channel(s), "att_xfer_kill_uuid", switch_core_session_get_uuid(b));
		switch_channel_set_variable(switch_core_session_get_channel(s), "att_xfer_destination_number", prof->destination_number);
		switch_channel_set_variable(switch_core_session_get_channel(s), "att_xfer_callee_id_name", prof->callee_id_name);
		switch_channel_set_variable(switch_core_session_get_channel(s), "att_xfer_callee_id_number", prof->callee_id_number);
		if ((tmp = switch_channel_get_hold_music(switch_core_session_get_channel(s)))) {
			moh = tmp;
		}
		if (!zstr(moh) && strcasecmp(moh, "silence")) {
			switch_ivr_session_transfer(s, switch_core_session_sprintf(s, "m:\":endless_playback:%s\"park", moh), "inline", NULL);
		} else {
			switch_ivr_session_transfer(s, "park", "inline", NULL);
		}
		switch_core_session_rwunlock(s);
		switch_channel_hangup(bch, SWITCH_CAUSE_NORMAL_CLEARING);
		return XRTC_OK;
	}

	if (br_a && br_b) {
		/* both bridged: their partners meet, B parks and ends */
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(a), SWITCH_LOG_NOTICE, "Attended Transfer [%s][%s]\n", br_a, br_b);
		if ((s = switch_core_session_locate(br_b))) {
			switch_channel_set_variable(switch_core_session_get_channel(s), "transfer_disposition", "bridge");
			switch_channel_set_flag(switch_core_session_get_channel(s), CF_ATTENDED_TRANSFER);
			switch_core_session_rwunlock(s);
		}
		if (switch_true(switch_channel_get_variable(ach, "recording_follow_transfer")) && (s = switch_core_session_locate(br_a))) {
			switch_channel_set_variable(switch_core_session_get_channel(s), "transfer_disposition", "bridge");
			switch_ivr_transfer_recordings(a, s);
			switch_core_session_rwunlock(s);
		}
		if (switch_true(switch_channel_get_variable(bch, "recording_follow_transfer")) && (s = switch_core_session_locate(br_b))) {
			switch_ivr_transfer_recordings(b, s);
			switch_core_session_rwunlock(s);
		}
		switch_channel_set_variable_printf(ach, "transfer_to", "att:%s", br_b);
		mark_transfer(ach, br_b);
		mark_transfer(ach, br_a);
		switch_ivr_uuid_bridge(br_a, br_b);
		switch_channel_set_variable(bch, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "ATTENDED_TRANSFER");
		switch_channel_clear_flag(bch, CF_LEG_HOLDING);
		switch_channel_set_variable(bch, "park_timeout", "2:attended_transfer");
		switch_channel_set_state(bch, CS_PARK);
		return XRTC_OK;
	}

	if (!br_a && !br_b) {
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(a), SWITCH_LOG_WARNING, "Cannot transfer channels that are not in a bridge.\n");
		return XRTC_NOT_BRIDGED;
	}

	{
		/* one of them bridged: its partner goes where the other was going,
		 * and the other leaves */
		switch_channel_t *hup = br_a ? bch : ach;
		switch_core_session_t *hup_session = br_a ? b : a;
		const char *idest, *ext;

		if (!(s = switch_core_session_locate(br_a ? br_a : br_b))) {
			return XRTC_FAIL;
		}
		if (!br_a) {
			switch_channel_clear_flag(bch, CF_LEG_HOLDING);
			switch_channel_hangup(bch, SWITCH_CAUSE_ATTENDED_TRANSFER);
		}
		idest = switch_channel_get_variable(hup, "inline_destination");
		ext = switch_channel_get_variable(hup, "destination_number");
		if (switch_true(switch_channel_get_variable(hup, "recording_follow_transfer"))) {
			switch_ivr_transfer_recordings(hup_session, s);
		}
		if (idest) {
			switch_ivr_session_transfer(s, idest, "inline", NULL);
		} else {
			switch_ivr_session_transfer(s, ext, NULL, NULL);
		}
		switch_channel_hangup(hup, SWITCH_CAUSE_ATTENDED_TRANSFER);
		switch_core_session_rwunlock(s);
		return XRTC_OK;
	}
}

int xrtc_replace(const char *uuid, const char *other_uuid)
{
	switch_core_session_t *a, *b;
	int r;

	if (zstr(uuid) || !(a = switch_core_session_locate(uuid))) {
		return XRTC_GONE;
	}
	if (zstr(other_uuid) || !(b = switch_core_session_locate(other_uuid))) {
		switch_core_session_rwunlock(a);
		return XRTC_GONE;
	}
	r = a == b ? XRTC_FAIL : attended_transfer(a, b);
	switch_core_session_rwunlock(b);
	switch_core_session_rwunlock(a);
	return r;
}

/* ------------------------------------------------------------------------
 * uuid_send_prompt <uuid> <type>|<text>[|<regex>]: switch_ivr_send_prompt
 * (SWITCH_MESSAGE_INDICATE_PROMPT) on any channel, as a dialplan or an
 * ESL application would send it; an xrtc or verto client gets
 * verto.prompt.
 * ---------------------------------------------------------------------- */

#define PROMPT_SYNTAX "<uuid> <dtmf|message>|<text>[|<regex>]"

SWITCH_STANDARD_API(xrtc_prompt_api)
{
	char *mycmd = NULL, *arg, *argv[3] = { 0 };
	switch_core_session_t *psession;

	if (zstr(cmd) || !(mycmd = strdup(cmd)) || !(arg = strchr(mycmd, ' '))) {
		stream->write_function(stream, "-USAGE: %s\n", PROMPT_SYNTAX);
		goto end;
	}
	*arg++ = '\0';
	if (switch_separate_string_string(arg, "|", argv, 3) < 2 || zstr(argv[0]) || zstr(argv[1])) {
		stream->write_function(stream, "-USAGE: %s\n", PROMPT_SYNTAX);
		goto end;
	}
	if (!(psession = switch_core_session_locate(mycmd))) {
		stream->write_function(stream, "-ERR No such channel %s!\n", mycmd);
		goto end;
	}
	switch_ivr_send_prompt(psession, argv[0], argv[1], argv[2]);
	switch_core_session_rwunlock(psession);
	stream->write_function(stream, "+OK\n");
 end:
	switch_safe_free(mycmd);
	return SWITCH_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Recovery: the secondary recovery callback (mod_verto's
 * verto_recover_callback). The primary, in mod_xrtc.c, gives the recovered
 * session the endpoint's private data; after the core recovered its media
 * this one hands the call to Go, which sets its media up from its xrtc
 * profile (xrtc_recover_setup) and takes it back.
 * ---------------------------------------------------------------------- */

static int xrtc_recover_secondary(switch_core_session_t *session)
{
	switch_channel_t *channel = switch_core_session_get_channel(session);
	switch_caller_profile_t *cp = switch_channel_get_caller_profile(channel);
	xrtc_recovered_t rc = { 0 };

	if (switch_channel_test_flag(channel, CF_NO_RECOVER)) {
		return 0;
	}
	rc.uuid = switch_core_session_get_uuid(session);
	rc.profile = nz(switch_channel_get_variable(channel, "verto_profile_name"));
	rc.sessid = nz(switch_channel_get_variable(channel, "jsock_uuid_str"));
	rc.ctrl_uuid = nz(switch_channel_get_variable(channel, "xrtc_ctrl_uuid"));
	rc.login = nz(switch_channel_get_variable(channel, "verto_user"));
	rc.outbound = switch_channel_direction(channel) == SWITCH_CALL_DIRECTION_OUTBOUND;
	if (cp) {
		rc.caller_id_name = nz(cp->caller_id_name);
		rc.caller_id_number = nz(cp->caller_id_number);
		rc.callee_id_name = nz(cp->callee_id_name);
		rc.callee_id_number = nz(cp->callee_id_number);
		rc.destination_number = nz(cp->destination_number);
	}
	/* Refused (no such profile, no socket): the call is still started, and
	 * its on_init hangs it up, rather than leaving the session behind. */
	if (xrtcGoRecover(session, &rc) != 0) {
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_WARNING, "xrtc: %s not recovered: it ends\n", switch_channel_get_name(channel));
	}
	return 1;
}

void xrtc_ext_load(void *vmodule, const char *modname)
{
	switch_loadable_module_interface_t *module = (switch_loadable_module_interface_t *) vmodule;
	switch_loadable_module_interface_t **module_interface = &module; /* for SWITCH_ADD_API */
	switch_api_interface_t *api = NULL;

	SWITCH_ADD_API(api, "uuid_send_prompt", "Prompt the user of a WebRTC call (verto.prompt)", xrtc_prompt_api, PROMPT_SYNTAX);
	switch_console_set_complete("add uuid_send_prompt ::console::list_uuid");
	switch_core_register_secondary_recover_callback(modname, xrtc_recover_secondary);
}

void xrtc_ext_shutdown(const char *modname)
{
	switch_core_unregister_secondary_recover_callback(modname);
	switch_console_set_complete("del uuid_send_prompt");
}
