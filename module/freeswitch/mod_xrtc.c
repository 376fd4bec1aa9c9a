//go:build freeswitch

/*
 * mod_xrtc.c: the FreeSWITCH side of the xrtc endpoint.
 *
 * This file only maps FreeSWITCH onto the Go core and back: the module
 * definition, the "xrtc" endpoint (io routines, state handlers,
 * receive_message, outgoing_channel), the "xrtc" API command, the
 * event-channel hookup, and small helpers the Go binding calls (channel.go,
 * host.go). All Verto logic lives in Go (module/xrtc).
 *
 * Media follows mod_verto (verto__invite_func, verto_media, verto_connect,
 * verto__answer_func, verto__attach_func, tech_reattach) on top of what
 * mod_rtc provides it: our own io routines read and write frames through
 * the core media engine.
 */

#include <switch.h>
#include <switch_stun.h>
#include "xrtc.hh"
#include "services.hh"
#include "_cgo_export.h"

SWITCH_MODULE_LOAD_FUNCTION(mod_xrtc_load);
SWITCH_MODULE_SHUTDOWN_FUNCTION(mod_xrtc_shutdown);
SWITCH_MODULE_DEFINITION(mod_xrtc, mod_xrtc_load, mod_xrtc_shutdown, NULL);

#define XRTC_EP_NAME "xrtc"
#define XRTC_CONF_NAME "xcc-rtc.conf.xml"

static struct {
	switch_loadable_module_interface_t *module;
	switch_endpoint_interface_t *endpoint;
	switch_event_channel_id_t event_channel_id;
	int bound;
	/* where an RTP session keeps its statistics (see rtp_stats) */
	switch_size_t stats_offset;
	int stats_offset_ok;
} xrtc_globals;

typedef struct xrtc_pvt_s {
	switch_core_session_t *session;
	switch_channel_t *channel;
	switch_media_handle_t *smh;
	switch_core_media_params_t mparams;
	switch_mutex_t *mutex;
	char *r_sdp;
	int inbound;
	int offered;     /* a local offer was made (call to a user, re-attach) */
	int media_up;    /* RTP activated at least once */
	int sent_media;  /* the local answer of a client's call exists */
	int detached;    /* media stopped while the client is away */
	int proxy;       /* bypass_media: SDP passed between the legs, no media here */
	int recovering;  /* brought back by fsctl recover, set up by xrtc_recover_setup */
} xrtc_pvt_t;

/* The state of one outgoing_channel call, handed to Go and back. */
typedef struct {
	switch_core_session_t *session;
	switch_event_t *var_event;
	switch_caller_profile_t *outbound_profile;
	switch_memory_pool_t **pool;
	switch_originate_flag_t flags;
	switch_core_session_t *new_session;
} xrtc_orig_ctx_t;

static const char *nz(const char *s)
{
	return s ? s : "";
}

static const char *nn(const char *s)
{
	return zstr(s) ? NULL : s;
}

/* ------------------------------------------------------------------------
 * Logging and small host helpers
 * ---------------------------------------------------------------------- */

void xrtc_log(int level, const char *uuid, const char *msg)
{
	if (!zstr(uuid)) {
		switch_log_printf(SWITCH_CHANNEL_UUID_LOG(uuid), (switch_log_level_t) level, "%s\n", msg);
	} else {
		switch_log_printf(SWITCH_CHANNEL_LOG, (switch_log_level_t) level, "%s\n", msg);
	}
}

char *xrtc_global_var(const char *name)
{
	return switch_core_get_variable_dup(name);
}

char *xrtc_stun_lookup(const char *value)
{
	switch_memory_pool_t *pool = NULL;
	char *ip = NULL, *out = NULL;

	if (zstr(value) || switch_core_new_memory_pool(&pool) != SWITCH_STATUS_SUCCESS) {
		return NULL;
	}
	if (switch_stun_ip_lookup(&ip, value, pool) == SWITCH_STATUS_SUCCESS && !zstr(ip)) {
		out = strdup(ip);
	}
	switch_core_destroy_memory_pool(&pool);
	return out;
}

void xrtc_host_status(xrtc_status_t *out)
{
	int32_t peak = 0, last_sps = 0, sps_peak = 0;
	char *v;

	memset(out, 0, sizeof(*out));
	switch_copy_string(out->core_uuid, nz(switch_core_get_uuid()), sizeof(out->core_uuid));
	switch_copy_string(out->hostname, nz(switch_core_get_hostname()), sizeof(out->hostname));
	switch_copy_string(out->version, nz(switch_version_full()), sizeof(out->version));
	if ((v = switch_core_get_variable_dup("local_ip_v4"))) {
		switch_copy_string(out->ip, v, sizeof(out->ip));
		free(v);
	}
	if ((v = switch_core_get_variable_dup("domain"))) {
		switch_copy_string(out->domain, v, sizeof(out->domain));
		free(v);
	}
	out->sessions = (int) switch_core_session_count();
	out->sessions_max = (int) switch_core_session_limit(0);
	out->sessions_since_startup = (long long) switch_core_session_id() - 1;
	switch_core_session_ctl(SCSC_SESSIONS_PEAK, &peak);
	switch_core_session_ctl(SCSC_LAST_SPS, &last_sps);
	switch_core_session_ctl(SCSC_SPS_PEAK, &sps_peak);
	out->session_peak_max = peak;
	out->sps_last = last_sps;
	out->sps_max = sps_peak;
}

/* ------------------------------------------------------------------------
 * Channel creation
 * ---------------------------------------------------------------------- */

static void set_vars(switch_channel_t *channel, const xrtc_vars_t *vars)
{
	int i;

	if (!vars) {
		return;
	}
	for (i = 0; i < vars->count; i++) {
		const char *name = vars->names[i], *value = vars->values[i];

		if (zstr(name)) {
			continue;
		}
		if ((!strcmp(name, "callee_id_name") || !strcmp(name, "callee_id_number")) && switch_channel_get_caller_profile(channel)) {
			switch_channel_set_profile_var(channel, name, value);
		} else {
			switch_channel_set_variable(channel, name, value);
		}
	}
}

/* mod_rtc's rtc_attach_private: our private data and the media handle. */
static xrtc_pvt_t *attach_pvt(switch_core_session_t *session, int inbound)
{
	xrtc_pvt_t *tech_pvt = switch_core_session_alloc(session, sizeof(*tech_pvt));

	tech_pvt->session = session;
	tech_pvt->channel = switch_core_session_get_channel(session);
	tech_pvt->inbound = inbound;
	switch_mutex_init(&tech_pvt->mutex, SWITCH_MUTEX_NESTED, switch_core_session_get_pool(session));

	switch_core_session_add_stream(session, NULL);
	switch_core_media_check_dtmf_type(session);
	switch_channel_set_cap(tech_pvt->channel, CC_JITTERBUFFER);
	switch_channel_set_cap(tech_pvt->channel, CC_FS_RTP);
	switch_channel_set_cap(tech_pvt->channel, CC_IO_OVERRIDE);
	switch_media_handle_create(&tech_pvt->smh, session, &tech_pvt->mparams);
	switch_core_session_set_private(session, tech_pvt);
	return tech_pvt;
}

/* mod_verto's verto_set_media_options, from the xrtc profile. */
static switch_status_t set_media_options(xrtc_pvt_t *tech_pvt, const xrtc_media_opts_t *m)
{
	switch_core_session_t *session = tech_pvt->session;
	int i;

	if (!zstr(m->rtp_ip4)) {
		tech_pvt->mparams.rtpip4 = switch_core_session_strdup(session, m->rtp_ip4);
		tech_pvt->mparams.rtpip = tech_pvt->mparams.rtpip4;
	}
	if (!zstr(m->rtp_ip6)) {
		tech_pvt->mparams.rtpip6 = switch_core_session_strdup(session, m->rtp_ip6);
		if (zstr(tech_pvt->mparams.rtpip)) {
			tech_pvt->mparams.rtpip = tech_pvt->mparams.rtpip6;
		}
	}
	if (zstr(tech_pvt->mparams.rtpip)) {
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR,
						  "%s has no media ip, check rtp-ip in " XRTC_CONF_NAME "\n", switch_channel_get_name(tech_pvt->channel));
		return SWITCH_STATUS_FALSE;
	}
	if (!zstr(m->ext_rtp_ip)) {
		tech_pvt->mparams.extrtpip = tech_pvt->mparams.extsipip = switch_core_session_strdup(session, m->ext_rtp_ip);
	}

	switch_channel_set_flag(tech_pvt->channel, CF_TRACKABLE);
	/* fsctl recover hands the call back to mod_xrtc (xrtc_ext.c) */
	switch_channel_set_variable(tech_pvt->channel, "secondary_recovery_module", modname);
	switch_core_media_check_dtmf_type(session);
	/* CC_BYPASS_MEDIA only where proxy mode can work: see xrtc_new_outbound */
	switch_channel_set_cap(tech_pvt->channel, CC_JITTERBUFFER);
	switch_channel_set_cap(tech_pvt->channel, CC_FS_RTP);

	tech_pvt->mparams.inbound_codec_string = switch_core_session_strdup(session, nz(m->inbound_codec_string));
	tech_pvt->mparams.outbound_codec_string = switch_core_session_strdup(session, nz(m->outbound_codec_string));
	tech_pvt->mparams.jb_msec = switch_core_session_strdup(session, nz(m->jb_msec));
	switch_media_handle_set_media_flag(tech_pvt->smh, SCMF_SUPPRESS_CNG);
	tech_pvt->mparams.timer_name = switch_core_session_strdup(session, nz(m->timer_name));
	tech_pvt->mparams.local_network = switch_core_session_strdup(session, nz(m->local_network));

	for (i = 0; i < m->cand_acl_count; i++) {
		switch_core_media_add_ice_acl(session, SWITCH_MEDIA_TYPE_AUDIO, m->cand_acl[i]);
		switch_core_media_add_ice_acl(session, SWITCH_MEDIA_TYPE_VIDEO, m->cand_acl[i]);
	}
	if (m->enable_text) {
		xrtc_text_enable(session);
	}
	return SWITCH_STATUS_SUCCESS;
}

static int sdp_parses(const char *sdp)
{
	return !zstr(sdp) && !strncmp(sdp, "v=0", 3) && strstr(sdp, "\nm=") != NULL;
}

/* An SDP a WebRTC client can take as it is (DTLS-SRTP and ICE): the only
 * kind of SDP proxy mode (bypass_media) may hand to an xrtc client. */
static int webrtc_sdp(const char *sdp)
{
	return sdp_parses(sdp) && strstr(sdp, "a=fingerprint:") && strstr(sdp, "a=ice-ufrag:");
}

/* A client's call (verto.invite): mod_verto's verto__invite_func. The offer
 * is kept and negotiated at answer or early media (xrtc_answer_media), as
 * mod_verto does, so that what the dialplan sets before the answer
 * (absolute_codec_string, codec_string, inherit_codec) applies. */
int xrtc_new_inbound(const char *uuid, const char *name, const xrtc_media_opts_t *m, const char *sdp,
					 const xrtc_caller_t *cp, const xrtc_vars_t *vars)
{
	switch_core_session_t *session;
	switch_channel_t *channel;
	switch_caller_profile_t *caller_profile;
	xrtc_pvt_t *tech_pvt;
	int r = XRTC_FAIL;

	if (!sdp_parses(sdp)) {
		return XRTC_BAD_SDP;
	}

	/* `unload mod_xrtc` write-locks the module while it removes the
	 * endpoint, before the module's shutdown runs: a session requested then
	 * would block on that lock and hold the unload up for 10 s. Refuse
	 * instead: the module is going away. */
	if (switch_thread_rwlock_tryrdlock(xrtc_globals.module->rwlock) != SWITCH_STATUS_SUCCESS) {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_NOTICE, "xrtc: call %s refused: mod_xrtc is being unloaded\n", uuid);
		return XRTC_SHUTDOWN;
	}
	session = switch_core_session_request_uuid(xrtc_globals.endpoint, SWITCH_CALL_DIRECTION_INBOUND, SOF_NONE, NULL, uuid);
	switch_thread_rwlock_unlock(xrtc_globals.module->rwlock);
	if (!session) {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_WARNING, "xrtc: cannot create session %s (uuid in use, or session limit)\n", uuid);
		return XRTC_FAIL;
	}
	channel = switch_core_session_get_channel(session);
	tech_pvt = attach_pvt(session, 1);
	switch_channel_set_name(channel, name);

	if (!tech_pvt->smh || set_media_options(tech_pvt, m) != SWITCH_STATUS_SUCCESS) {
		goto fail;
	}
	/* as mod_verto: a client's call may be put in proxy mode by the dialplan
	 * (bypass_media); its answer is then the other leg's SDP */
	switch_channel_set_cap(channel, CC_BYPASS_MEDIA);

	set_vars(channel, vars);
	switch_channel_set_variable(channel, "media_webrtc", "true");

	tech_pvt->r_sdp = switch_core_session_strdup(session, sdp);
	switch_channel_set_variable(channel, SWITCH_R_SDP_VARIABLE, sdp);
	switch_core_media_set_sdp_codec_string(session, sdp, SDP_OFFER);

	if ((caller_profile = switch_caller_profile_new(switch_core_session_get_pool(session),
													 nn(cp->username), nn(cp->dialplan),
													 nn(cp->caller_id_name), nn(cp->caller_id_number),
													 nn(cp->network_addr), nn(cp->ani), nn(cp->aniii), nn(cp->rdnis),
													 nz(cp->source), nn(cp->context), nn(cp->destination_number)))) {
		switch_channel_set_caller_profile(channel, caller_profile);
	}
	if (!zstr(cp->callee_id_name)) {
		switch_channel_set_profile_var(channel, "callee_id_name", cp->callee_id_name);
	}
	if (!zstr(cp->callee_id_number)) {
		switch_channel_set_profile_var(channel, "callee_id_number", cp->callee_id_number);
	}

	switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG, "Remote SDP %s:\n%s\n", switch_channel_get_name(channel), sdp);

	switch_channel_set_state(channel, CS_INIT);
	if (switch_core_session_thread_launch(session) != SWITCH_STATUS_SUCCESS) {
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_ERROR, "xrtc: cannot launch the session thread\n");
		goto fail;
	}
	return XRTC_OK;

 fail:
	switch_core_session_destroy(&session);
	return r;
}

/* A call to a WebRTC user: the session outgoing_channel hands back (mod_rtc's
 * rtc_outgoing_channel + mod_verto's verto_outgoing_channel). */
int xrtc_new_outbound(void *octx, const char *uuid, const char *name, const xrtc_media_opts_t *m,
					  const xrtc_caller_t *cp, const xrtc_vars_t *vars)
{
	xrtc_orig_ctx_t *o = (xrtc_orig_ctx_t *) octx;
	switch_core_session_t *nsession;
	switch_channel_t *channel;
	switch_caller_profile_t *caller_profile;
	xrtc_pvt_t *tech_pvt;

	if (!o || o->new_session) {
		return XRTC_FAIL;
	}
	if (!(nsession = switch_core_session_request_uuid(xrtc_globals.endpoint, SWITCH_CALL_DIRECTION_OUTBOUND, o->flags, o->pool, uuid))) {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_WARNING, "xrtc: cannot create session %s (uuid in use, or session limit)\n", uuid);
		return XRTC_FAIL;
	}
	channel = switch_core_session_get_channel(nsession);
	tech_pvt = attach_pvt(nsession, 0);
	switch_channel_set_name(channel, name);

	if (!tech_pvt->smh || set_media_options(tech_pvt, m) != SWITCH_STATUS_SUCCESS) {
		switch_core_session_destroy(&nsession);
		return XRTC_FAIL;
	}

	if (o->outbound_profile) {
		caller_profile = switch_caller_profile_clone(nsession, o->outbound_profile);
		if (!zstr(cp->destination_number)) {
			caller_profile->destination_number = switch_core_session_strdup(nsession, cp->destination_number);
		}
		if (!zstr(cp->callee_id_name)) {
			caller_profile->callee_id_name = switch_core_session_strdup(nsession, cp->callee_id_name);
		}
		if (!zstr(cp->callee_id_number)) {
			caller_profile->callee_id_number = switch_core_session_strdup(nsession, cp->callee_id_number);
		}
		if (!zstr(cp->caller_id_name)) {
			caller_profile->caller_id_name = switch_core_session_strdup(nsession, cp->caller_id_name);
		}
		if (!zstr(cp->caller_id_number)) {
			caller_profile->caller_id_number = switch_core_session_strdup(nsession, cp->caller_id_number);
		}
		switch_channel_set_caller_profile(channel, caller_profile);
	}

	/* bypass_media on the other leg: proxy mode as mod_verto does it (the
	 * other leg's SDP offered to the client, the client's answer passed
	 * back), when the other leg's SDP is one a WebRTC client can take.
	 * Otherwise the endpoint does not claim CC_BYPASS_MEDIA, and the core
	 * turns proxy mode off on both legs ("does not support the proxy
	 * feature"): the media stays in FreeSWITCH and the call goes on. */
	if (o->session) {
		switch_channel_t *ochannel = switch_core_session_get_channel(o->session);
		if (switch_true(switch_channel_get_variable(ochannel, SWITCH_BYPASS_MEDIA_VARIABLE))) {
			if (webrtc_sdp(switch_channel_get_variable(ochannel, SWITCH_R_SDP_VARIABLE))) {
				switch_channel_set_cap(channel, CC_BYPASS_MEDIA);
				switch_channel_set_flag(channel, CF_PROXY_MODE);
				switch_channel_set_flag(ochannel, CF_PROXY_MODE);
			} else {
				switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(nsession), SWITCH_LOG_NOTICE,
								  "xrtc: bypass_media: %s has no WebRTC SDP (DTLS, ICE) to pass on: media stays in FreeSWITCH\n",
								  switch_channel_get_name(ochannel));
			}
		}
	}

	set_vars(channel, vars);
	switch_channel_set_variable(channel, "media_webrtc", "true");
	switch_core_session_set_ice(nsession);

	o->new_session = nsession;
	return XRTC_OK;
}

/* ------------------------------------------------------------------------
 * Channel operations (by UUID, under the session's read lock)
 * ---------------------------------------------------------------------- */

static switch_core_session_t *locate(const char *uuid, xrtc_pvt_t **pvt)
{
	switch_core_session_t *session;

	if (zstr(uuid) || !(session = switch_core_session_locate(uuid))) {
		return NULL;
	}
	if (!switch_core_session_check_interface(session, xrtc_globals.endpoint) ||
		!(*pvt = switch_core_session_get_private(session))) {
		switch_core_session_rwunlock(session);
		return NULL;
	}
	return session;
}

/* A local offer with every candidate (mod_verto's verto_connect for a call
 * to a user, tech_reattach for a re-attach). */
int xrtc_offer(const char *uuid, char **sdp_out)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	int r = XRTC_OK;

	*sdp_out = NULL;
	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_mutex_lock(tech_pvt->mutex);
	if (tech_pvt->recovering && !tech_pvt->media_up) {
		/* a recovered call (fsctl recover): the core brought its media back;
		 * a new offer on it, without new ports (mod_verto's verto_on_init
		 * and verto_connect with CF_RECOVERING); the client's answer takes
		 * the re-attach path */
		switch_core_session_clear_crypto(session);
		switch_channel_set_variable(tech_pvt->channel, "media_webrtc", "true");
		switch_core_session_set_ice(session);
		switch_core_media_gen_local_sdp(session, SDP_OFFER, NULL, 0, NULL, 0);
		tech_pvt->media_up = 1;
	} else if (!tech_pvt->media_up && switch_channel_test_flag(tech_pvt->channel, CF_PROXY_MODE)) {
		/* bypass_media: the other leg's SDP is the offer (mod_verto's
		 * verto_connect: switch_core_media_absorb_sdp) */
		switch_core_media_absorb_sdp(session);
		tech_pvt->proxy = 1;
	} else if (!tech_pvt->media_up) {
		/* first offer of a call to a user */
		switch_channel_set_variable(tech_pvt->channel, "codec_string", NULL);
		switch_core_media_prepare_codecs(session, SWITCH_TRUE);
		if (switch_core_media_choose_ports(session, SWITCH_TRUE, SWITCH_TRUE) != SWITCH_STATUS_SUCCESS) {
			r = XRTC_FAIL;
			goto end;
		}
		switch_core_media_gen_local_sdp(session, SDP_OFFER, NULL, 0, NULL, 0);
	} else {
		/* re-attach: fresh ICE and DTLS on the same channel */
		switch_channel_set_flag(tech_pvt->channel, CF_REATTACHED);
		switch_channel_set_flag(tech_pvt->channel, CF_REINVITE);
		switch_channel_set_flag(tech_pvt->channel, CF_RECOVERING);
		switch_core_media_gen_local_sdp(session, SDP_OFFER, NULL, 0, NULL, 0);
		switch_channel_clear_flag(tech_pvt->channel, CF_REINVITE);
		switch_channel_clear_flag(tech_pvt->channel, CF_RECOVERING);
		switch_core_session_request_video_refresh(session);
	}
	tech_pvt->offered = 1;
	if (tech_pvt->mparams.local_sdp_str) {
		*sdp_out = strdup(tech_pvt->mparams.local_sdp_str);
		switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG, "Local offer %s:\n%s\n",
						  switch_channel_get_name(tech_pvt->channel), tech_pvt->mparams.local_sdp_str);
	} else {
		r = XRTC_FAIL;
	}
 end:
	switch_mutex_unlock(tech_pvt->mutex);
	switch_core_session_rwunlock(session);
	return r;
}

/* The client's answer to our offer: mod_verto's verto__answer_func for a
 * call to a user, verto__attach_func for a re-attach. */
int xrtc_set_remote_answer(const char *uuid, const char *sdp)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	uint8_t proceed = 0;
	int r = XRTC_OK, reattach;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (!sdp_parses(sdp)) {
		switch_core_session_rwunlock(session);
		return XRTC_BAD_SDP;
	}
	switch_mutex_lock(tech_pvt->mutex);
	reattach = tech_pvt->media_up;
	tech_pvt->r_sdp = switch_core_session_strdup(session, sdp);
	switch_channel_set_variable(tech_pvt->channel, SWITCH_R_SDP_VARIABLE, sdp);
	switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG, "Remote answer %s:\n%s\n", switch_channel_get_name(tech_pvt->channel), sdp);

	if (!reattach && tech_pvt->proxy) {
		/* bypass_media: the client's answer goes to the other leg, which is
		 * answered with it (mod_verto's pass_sdp) */
		switch_core_session_t *other = NULL;
		if (switch_core_session_get_partner(session, &other) == SWITCH_STATUS_SUCCESS) {
			switch_channel_t *ochannel = switch_core_session_get_channel(other);
			switch_channel_set_variable(ochannel, SWITCH_B_SDP_VARIABLE, sdp);
			switch_channel_set_flag(ochannel, CF_PROXY_MODE);
			switch_core_session_queue_indication(other, SWITCH_MESSAGE_INDICATE_ANSWER);
			switch_core_session_rwunlock(other);
			tech_pvt->media_up = 1;
		} else {
			r = XRTC_FAIL;
		}
	} else if (reattach) {
		/* a call recovered after a restart is CF_RECOVERING until the core's
		 * on_init sends it to its recovered applications: left as it is */
		int recovering = switch_channel_test_flag(tech_pvt->channel, CF_RECOVERING);

		switch_core_media_clear_ice(session);
		switch_channel_set_flag(tech_pvt->channel, CF_REINVITE);
		switch_channel_set_flag(tech_pvt->channel, CF_RECOVERING);
		if (!switch_core_media_negotiate_sdp(session, tech_pvt->r_sdp, &proceed, SDP_ANSWER)) {
			r = XRTC_CODEC;
		} else if (switch_core_media_activate_rtp(session) != SWITCH_STATUS_SUCCESS) {
			r = XRTC_FAIL;
		}
		switch_channel_clear_flag(tech_pvt->channel, CF_REINVITE);
		if (!recovering) {
			switch_channel_clear_flag(tech_pvt->channel, CF_RECOVERING);
		}
		if (r == XRTC_OK) {
			tech_pvt->detached = 0;
			switch_core_media_gen_key_frame(session);
			switch_channel_set_flag(tech_pvt->channel, CF_VIDEO_REFRESH_REQ);
		}
	} else {
		switch_core_media_set_sdp_codec_string(session, sdp, SDP_ANSWER);
		if (!switch_core_media_negotiate_sdp(session, tech_pvt->r_sdp, &proceed, SDP_ANSWER)) {
			r = XRTC_CODEC;
		} else if (switch_core_media_choose_ports(session, SWITCH_TRUE, SWITCH_FALSE) != SWITCH_STATUS_SUCCESS ||
				   switch_core_media_activate_rtp(session) != SWITCH_STATUS_SUCCESS) {
			r = XRTC_FAIL;
		}
		if (r == XRTC_OK) {
			tech_pvt->media_up = 1;
		}
	}
	if (r == XRTC_CODEC) {
		switch_channel_set_variable(tech_pvt->channel, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "CODEC NEGOTIATION ERROR");
	} else if (r != XRTC_OK) {
		switch_channel_set_variable(tech_pvt->channel, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "MEDIA ERROR");
	}
	switch_mutex_unlock(tech_pvt->mutex);
	if (reattach && r == XRTC_OK) {
		/* as mod_verto's verto__attach_func: the display the client had is
		 * sent again, and the recovery data follows the socket */
		switch_core_session_message_t msg = { 0 };

		msg.from = __FILE__;
		msg.message_id = SWITCH_MESSAGE_INDICATE_DISPLAY;
		msg.string_array_arg[0] = switch_channel_get_variable(tech_pvt->channel, "last_sent_display_name");
		msg.string_array_arg[1] = switch_channel_get_variable(tech_pvt->channel, "last_sent_display_number");
		switch_core_session_receive_message(session, &msg);
		switch_core_recovery_track(session);
	}
	switch_core_session_rwunlock(session);
	return r;
}

/* A new offer from the client on an answered call (verto.modify
 * updateMedia). */
int xrtc_renegotiate(const char *uuid, const char *offer, char **sdp_out)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	uint8_t proceed = 0;
	int r = XRTC_OK;

	*sdp_out = NULL;
	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (!sdp_parses(offer)) {
		switch_core_session_rwunlock(session);
		return XRTC_BAD_SDP;
	}
	switch_mutex_lock(tech_pvt->mutex);
	tech_pvt->r_sdp = switch_core_session_strdup(session, offer);
	switch_channel_set_variable(tech_pvt->channel, SWITCH_R_SDP_VARIABLE, offer);
	switch_core_media_clear_ice(session);
	switch_channel_set_flag(tech_pvt->channel, CF_REINVITE);
	if (switch_core_media_negotiate_sdp(session, tech_pvt->r_sdp, &proceed, SDP_OFFER)) {
		switch_core_media_gen_local_sdp(session, SDP_ANSWER, NULL, 0, NULL, 0);
		if (switch_core_media_activate_rtp(session) != SWITCH_STATUS_SUCCESS) {
			r = XRTC_FAIL;
		} else if (tech_pvt->mparams.local_sdp_str) {
			*sdp_out = strdup(tech_pvt->mparams.local_sdp_str);
			switch_core_media_gen_key_frame(session);
			switch_channel_set_flag(tech_pvt->channel, CF_VIDEO_REFRESH_REQ);
			switch_channel_set_flag(tech_pvt->channel, CF_REATTACHED);
		} else {
			r = XRTC_FAIL;
		}
	} else {
		r = XRTC_CODEC;
	}
	switch_channel_clear_flag(tech_pvt->channel, CF_REINVITE);
	switch_mutex_unlock(tech_pvt->mutex);
	switch_core_session_rwunlock(session);
	return r;
}

int xrtc_mark_ringing(const char *uuid)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_channel_mark_ring_ready(tech_pvt->channel);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_mark_answered(const char *uuid)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	int r = XRTC_OK;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (switch_channel_mark_answered(tech_pvt->channel) != SWITCH_STATUS_SUCCESS) {
		r = XRTC_FAIL;
	}
	switch_core_session_rwunlock(session);
	return r;
}

int xrtc_detach(const char *uuid)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_mutex_lock(tech_pvt->mutex);
	switch_core_session_stop_media(session);
	tech_pvt->detached = 1;
	switch_mutex_unlock(tech_pvt->mutex);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_hangup(const char *uuid, int cause)
{
	switch_core_session_t *session;

	/* switch_core_session_locate fails once the channel is hanging up:
	 * nothing left to do then. */
	if (zstr(uuid) || !(session = switch_core_session_locate(uuid))) {
		return XRTC_GONE;
	}
	switch_channel_hangup(switch_core_session_get_channel(session), (switch_call_cause_t) cause);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_queue_dtmf(const char *uuid, const char *digits)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	char *send;
	int r = XRTC_OK;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	send = switch_mprintf("~%s", digits);
	if (switch_channel_queue_dtmf_string(tech_pvt->channel, send) != SWITCH_STATUS_SUCCESS) {
		r = XRTC_FAIL;
	}
	switch_safe_free(send);
	switch_core_session_rwunlock(session);
	return r;
}

int xrtc_hold(const char *uuid, int on)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_core_media_toggle_hold(session, on ? 1 : 0);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_transfer(const char *uuid, const char *dest, const char *dialplan, const char *context)
{
	switch_core_session_t *session, *other = NULL;
	xrtc_pvt_t *tech_pvt;
	int r = XRTC_OK;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (switch_core_session_get_partner(session, &other) == SWITCH_STATUS_SUCCESS) {
		if (switch_ivr_session_transfer(other, dest, nn(dialplan), nn(context)) != SWITCH_STATUS_SUCCESS) {
			r = XRTC_FAIL;
		} else {
			switch_channel_set_variable(tech_pvt->channel, "transfer_disposition", "recv_replace");
		}
		switch_core_session_rwunlock(other);
	} else {
		r = XRTC_NOT_BRIDGED;
	}
	switch_core_session_rwunlock(session);
	return r;
}

/* The session bridged to this call (its bridge partner, or signal_bond),
 * strdup'd into *out; none leaves *out NULL. */
int xrtc_partner(const char *uuid, char **out)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	char buf[SWITCH_UUID_FORMATTED_LENGTH + 1];

	*out = NULL;
	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (switch_channel_get_partner_uuid_copy(tech_pvt->channel, buf, sizeof(buf))) {
		*out = strdup(buf);
	}
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_refresh_video(const char *uuid)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_core_media_gen_key_frame(session);
	switch_channel_set_flag(tech_pvt->channel, CF_VIDEO_REFRESH_REQ);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

int xrtc_queue_command(const char *uuid, const char *json)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	switch_event_t *event = NULL;
	int r = XRTC_OK;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	if (switch_event_create(&event, SWITCH_EVENT_COMMAND) == SWITCH_STATUS_SUCCESS) {
		switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "content-type", "text/json");
		switch_event_add_header_string(event, SWITCH_STACK_BOTTOM, "content-source", "verto");
		switch_event_add_body(event, "%s", json);
		if (switch_core_session_queue_event(session, &event) != SWITCH_STATUS_SUCCESS) {
			switch_event_destroy(&event);
			r = XRTC_FAIL;
		}
	} else {
		r = XRTC_FAIL;
	}
	switch_core_session_rwunlock(session);
	return r;
}

int xrtc_set_vars(const char *uuid, const xrtc_vars_t *vars)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;

	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	set_vars(tech_pvt->channel, vars);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

/* Where an RTP session keeps its statistics. switch_rtp_get_stats (and
 * switch_core_media_get_stats) returns a pointer into the session, but also
 * runs the MOS estimate on every call: polled from the media watch, it would
 * add flaw penalties and shift rtp_audio_in_mos in CDRs. The statistics sit
 * at a fixed place in every RTP session (switch_rtp_t is opaque), so that
 * place is learnt once, at load, from a scratch session that never carries
 * media, and the counters are then read without side effects. */
static void learn_stats_offset(void)
{
	switch_memory_pool_t *pool = NULL;
	switch_rtp_t *rtp = NULL;
	switch_rtp_stats_t *stats;
	switch_rtp_flag_t flags[SWITCH_RTP_FLAG_INVALID] = { 0 };
	const char *err = NULL;

	if (switch_core_new_memory_pool(&pool) != SWITCH_STATUS_SUCCESS) {
		return;
	}
	if (switch_rtp_create(&rtp, 0, 160, 20000, flags, "none", &err, pool) == SWITCH_STATUS_SUCCESS && rtp &&
		(stats = switch_rtp_get_stats(rtp, NULL))) {
		xrtc_globals.stats_offset = (switch_size_t) ((char *) stats - (char *) rtp);
		xrtc_globals.stats_offset_ok = 1;
	} else {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_WARNING, "xrtc: no RTP statistics (%s): media-timeout cannot count packets\n", nz(err));
	}
	/* no socket, timer or thread was made: the pool is all there is */
	switch_core_destroy_memory_pool(&pool);
}

/* Inbound RTP *media* packets: the RTP statistics count STUN, DTLS and RTCP
 * apart (FREESWITCH.md, media-timeout). Read without side effects (see
 * learn_stats_offset); the RTP session lives in the session's pool, which
 * the read lock keeps. */
int xrtc_media_stats(const char *uuid, xrtc_stats_t *out)
{
	switch_core_session_t *session;
	xrtc_pvt_t *tech_pvt;
	switch_rtp_t *rtp;
	const switch_rtp_stats_t *stats;

	memset(out, 0, sizeof(*out));
	if (!(session = locate(uuid, &tech_pvt))) {
		return XRTC_GONE;
	}
	switch_mutex_lock(tech_pvt->mutex);
	out->held = switch_channel_test_flag(tech_pvt->channel, CF_PROTO_HOLD) ? 1 : 0;
	if (tech_pvt->proxy || switch_channel_test_flag(tech_pvt->channel, CF_PROXY_MODE)) {
		out->bypass = 1;
	} else if (xrtc_globals.stats_offset_ok && (rtp = switch_core_media_get_rtp_session(session, SWITCH_MEDIA_TYPE_AUDIO))) {
		stats = (const switch_rtp_stats_t *) ((const char *) rtp + xrtc_globals.stats_offset);
		out->rtp_packets_in = (uint64_t) stats->inbound.media_packet_count;
		out->rtp_bytes_in = (uint64_t) stats->inbound.media_bytes;
		out->rtp_packets_out = (uint64_t) stats->outbound.media_packet_count;
		out->has_rtp = 1;
	}
	switch_mutex_unlock(tech_pvt->mutex);
	switch_core_session_rwunlock(session);
	return XRTC_OK;
}

/* ------------------------------------------------------------------------
 * Event channels and chat
 * ---------------------------------------------------------------------- */

int xrtc_broadcast(const char *channel, const char *json)
{
	cJSON *obj;

	if (zstr(channel) || !(obj = cJSON_Parse(json))) {
		return XRTC_FAIL;
	}
	if (switch_event_channel_broadcast(channel, &obj, modname, xrtc_globals.event_channel_id) != SWITCH_STATUS_SUCCESS) {
		if (obj) cJSON_Delete(obj);
		return XRTC_FAIL;
	}
	return XRTC_OK;
}

/* xrtc_send_chat (verto.info msg): services.c */

static void xrtc_event_channel_func(const char *event_channel, cJSON *json, const char *key, switch_event_channel_id_t id, void *user_data)
{
	char *text;

	/* mod_verto's presence (loaded beside us): the endpoint makes its own
	 * (services.c), our clients must not hear it twice */
	if (key && strstr(key, "mod_verto") && event_channel && !strncasecmp(event_channel, "presence", 8)) {
		return;
	}
	if (!json || !(text = cJSON_PrintUnformatted(json))) {
		return;
	}
	xrtcGoDeliverEvent((char *) nz(event_channel), text);
	free(text);
}

/* ------------------------------------------------------------------------
 * The endpoint: state handlers
 * ---------------------------------------------------------------------- */

/* A call to a user starts: its offer is made here, on the session's thread,
 * once the core has finished setting the channel up (originator_codec,
 * proxy mode, the originate's variables), as in mod_verto's verto_on_init. */
static switch_status_t xrtc_on_init(switch_core_session_t *session)
{
	xrtc_pvt_t *tech_pvt = switch_core_session_get_private(session);
	switch_channel_t *channel = switch_core_session_get_channel(session);

	if (tech_pvt && switch_channel_test_flag(channel, CF_RECOVERING)) {
		/* fsctl recover: the client gets a new offer (verto.attach); this
		 * thread waits a while for its answer, as mod_verto's does */
		if (!tech_pvt->recovering) {
			/* the endpoint did not take it back (xrtc_ext.c) */
			switch_channel_hangup(channel, SWITCH_CAUSE_DESTINATION_OUT_OF_ORDER);
			return SWITCH_STATUS_SUCCESS;
		}
		xrtcGoChannelInit((char *) switch_core_session_get_uuid(session));
		switch_channel_set_flag(channel, CF_VIDEO_BREAK);
		switch_core_session_kill_channel(session, SWITCH_SIG_BREAK);
		return SWITCH_STATUS_SUCCESS;
	}
	if (tech_pvt && !tech_pvt->inbound) {
		xrtcGoChannelInit((char *) switch_core_session_get_uuid(session));
	}
	return SWITCH_STATUS_SUCCESS;
}

static switch_status_t xrtc_on_hangup(switch_core_session_t *session)
{
	switch_channel_t *channel = switch_core_session_get_channel(session);

	xrtcGoChannelHangup((char *) switch_core_session_get_uuid(session), (int) switch_channel_get_cause(channel));
	return SWITCH_STATUS_SUCCESS;
}

static switch_status_t xrtc_on_destroy(switch_core_session_t *session)
{
	switch_channel_t *channel = switch_core_session_get_channel(session);
	switch_call_cause_t cause = switch_channel_get_cause(channel);

	/* A session destroyed without running (an originate that failed after
	 * outgoing_channel) never reached on_hangup: the endpoint forgets it
	 * here. For the others this repeats on_hangup, which is harmless. */
	xrtcGoChannelHangup((char *) switch_core_session_get_uuid(session), (int) (cause ? cause : SWITCH_CAUSE_NORMAL_CLEARING));
	xrtc_text_destroy(session);
	switch_media_handle_destroy(session);
	return SWITCH_STATUS_SUCCESS;
}

static switch_state_handler_table_t xrtc_state_handlers = {
	/*.on_init */ xrtc_on_init,
	/*.on_routing */ NULL,
	/*.on_execute */ NULL,
	/*.on_hangup */ xrtc_on_hangup,
	/*.on_exchange_media */ NULL,
	/*.on_soft_execute */ NULL,
	/*.on_consume_media */ NULL,
	/*.on_hibernate */ NULL,
	/*.on_reset */ NULL,
	/*.on_park */ NULL,
	/*.on_reporting */ NULL,
	/*.on_destroy */ xrtc_on_destroy
};

/* ------------------------------------------------------------------------
 * The endpoint: io routines
 * ---------------------------------------------------------------------- */

static switch_status_t xrtc_read_frame(switch_core_session_t *session, switch_frame_t **frame, switch_io_flag_t flags, int stream_id)
{
	return switch_core_media_read_frame(session, frame, flags, stream_id, SWITCH_MEDIA_TYPE_AUDIO);
}

static switch_status_t xrtc_write_frame(switch_core_session_t *session, switch_frame_t *frame, switch_io_flag_t flags, int stream_id)
{
	return switch_core_media_write_frame(session, frame, flags, stream_id, SWITCH_MEDIA_TYPE_AUDIO);
}

static switch_status_t xrtc_read_video_frame(switch_core_session_t *session, switch_frame_t **frame, switch_io_flag_t flags, int stream_id)
{
	return switch_core_media_read_frame(session, frame, flags, stream_id, SWITCH_MEDIA_TYPE_VIDEO);
}

static switch_status_t xrtc_write_video_frame(switch_core_session_t *session, switch_frame_t *frame, switch_io_flag_t flags, int stream_id)
{
	return switch_core_media_write_frame(session, frame, flags, stream_id, SWITCH_MEDIA_TYPE_VIDEO);
}

static switch_status_t xrtc_kill_channel(switch_core_session_t *session, int sig)
{
	if (!switch_core_session_get_private(session)) {
		return SWITCH_STATUS_FALSE;
	}
	switch (sig) {
	case SWITCH_SIG_BREAK:
		if (switch_core_media_ready(session, SWITCH_MEDIA_TYPE_AUDIO)) {
			switch_core_media_break(session, SWITCH_MEDIA_TYPE_AUDIO);
		}
		if (switch_core_media_ready(session, SWITCH_MEDIA_TYPE_VIDEO)) {
			switch_core_media_break(session, SWITCH_MEDIA_TYPE_VIDEO);
		}
		break;
	case SWITCH_SIG_KILL:
	default:
		if (switch_core_media_ready(session, SWITCH_MEDIA_TYPE_AUDIO)) {
			switch_core_media_kill_socket(session, SWITCH_MEDIA_TYPE_AUDIO);
		}
		if (switch_core_media_ready(session, SWITCH_MEDIA_TYPE_VIDEO)) {
			switch_core_media_kill_socket(session, SWITCH_MEDIA_TYPE_VIDEO);
		}
		break;
	}
	return SWITCH_STATUS_SUCCESS;
}

/* DTMF from FreeSWITCH to the client: RFC 2833 telephone-event in the RTP. */
static switch_status_t xrtc_send_dtmf(switch_core_session_t *session, const switch_dtmf_t *dtmf)
{
	if (!switch_core_media_ready(session, SWITCH_MEDIA_TYPE_AUDIO)) {
		return SWITCH_STATUS_SUCCESS;
	}
	return switch_core_media_queue_rfc2833(session, SWITCH_MEDIA_TYPE_AUDIO, dtmf);
}

/* The local answer of a client's call, made at the first early media or
 * answer: mod_verto's verto_media and verto_tech_media. The codecs are
 * prepared and the client's offer negotiated only now (late negotiation),
 * so that absolute_codec_string, codec_string or inherit_codec set before
 * the answer apply. In proxy mode (bypass_media) the answer is the other
 * leg's SDP (verto_send_media_indication). */
static switch_status_t xrtc_answer_media(switch_core_session_t *session, xrtc_pvt_t *tech_pvt)
{
	const char *proxy_sdp;
	uint8_t proceed = 0;

	if (tech_pvt->sent_media) {
		return SWITCH_STATUS_SUCCESS;
	}
	if (switch_channel_test_flag(tech_pvt->channel, CF_PROXY_MODE) &&
		(proxy_sdp = switch_channel_get_variable(tech_pvt->channel, SWITCH_B_SDP_VARIABLE))) {
		switch_core_media_set_local_sdp(session, proxy_sdp, SWITCH_TRUE);
		tech_pvt->proxy = 1;
		tech_pvt->sent_media = 1;
		return SWITCH_STATUS_SUCCESS;
	}
	switch_core_media_prepare_codecs(session, SWITCH_TRUE);
	if (!switch_core_media_negotiate_sdp(session, tech_pvt->r_sdp, &proceed, SDP_OFFER)) {
		return SWITCH_STATUS_FALSE;
	}
	if (switch_core_media_choose_ports(session, SWITCH_TRUE, SWITCH_FALSE) != SWITCH_STATUS_SUCCESS) {
		return SWITCH_STATUS_FALSE;
	}
	switch_core_media_gen_local_sdp(session, SDP_ANSWER, NULL, 0, NULL, 0);
	if (switch_core_media_activate_rtp(session) != SWITCH_STATUS_SUCCESS) {
		return SWITCH_STATUS_FALSE;
	}
	if (!tech_pvt->mparams.local_sdp_str) {
		return SWITCH_STATUS_FALSE;
	}
	switch_log_printf(SWITCH_CHANNEL_SESSION_LOG(session), SWITCH_LOG_DEBUG, "Local SDP %s:\n%s\n",
					  switch_channel_get_name(tech_pvt->channel), tech_pvt->mparams.local_sdp_str);
	tech_pvt->sent_media = 1;
	tech_pvt->media_up = 1;
	return SWITCH_STATUS_SUCCESS;
}

static switch_status_t xrtc_receive_message(switch_core_session_t *session, switch_core_session_message_t *msg)
{
	xrtc_pvt_t *tech_pvt = switch_core_session_get_private(session);
	switch_channel_t *channel = switch_core_session_get_channel(session);
	switch_status_t status = SWITCH_STATUS_SUCCESS;
	char *sdp = NULL;

	if (!tech_pvt || switch_channel_down(channel)) {
		return SWITCH_STATUS_FALSE;
	}

	switch (msg->message_id) {
	case SWITCH_MESSAGE_INDICATE_ANSWER:
	case SWITCH_MESSAGE_INDICATE_PROGRESS:
		if (!tech_pvt->inbound) {
			break; /* a call to a user is answered by the client */
		}
		switch_mutex_lock(tech_pvt->mutex);
		if ((status = xrtc_answer_media(session, tech_pvt)) == SWITCH_STATUS_SUCCESS) {
			sdp = strdup(tech_pvt->mparams.local_sdp_str);
		}
		switch_mutex_unlock(tech_pvt->mutex);
		if (status != SWITCH_STATUS_SUCCESS) {
			switch_channel_set_variable(channel, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "CODEC NEGOTIATION ERROR");
			switch_channel_hangup(channel, SWITCH_CAUSE_INCOMPATIBLE_DESTINATION);
			break;
		}
		if (msg->message_id == SWITCH_MESSAGE_INDICATE_ANSWER) {
			switch_channel_set_variable(channel, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "ANSWERED");
			xrtcGoChannelAnswer((char *) switch_core_session_get_uuid(session), sdp);
		} else {
			switch_channel_set_variable(channel, SWITCH_ENDPOINT_DISPOSITION_VARIABLE, "EARLY MEDIA");
			xrtcGoChannelProgress((char *) switch_core_session_get_uuid(session), sdp);
		}
		free(sdp);
		break;
	case SWITCH_MESSAGE_INDICATE_RINGING:
		/* Verto has no ringing indication towards the caller. */
		break;
	case SWITCH_MESSAGE_INDICATE_DISPLAY:
		{
			const char *name = msg->string_array_arg[0], *number = msg->string_array_arg[1];
			if (!zstr(name) || !zstr(number)) {
				char *identity;

				/* as mod_verto: whoever eavesdrops on this call sees it too */
				switch_ivr_eavesdrop_update_display(session, name, number);
				switch_channel_set_variable(channel, "last_sent_display_name", name);
				switch_channel_set_variable(channel, "last_sent_display_number", number);
				identity = xrtc_identity_json(channel);
				xrtcGoChannelDisplay((char *) switch_core_session_get_uuid(session), (char *) nz(name), (char *) nz(number), identity);
				free(identity);
			}
		}
		break;
	case SWITCH_MESSAGE_INDICATE_PROMPT:
		/* switch_ivr_send_prompt (uuid_send_prompt): verto.prompt */
		if (xrtcGoChannelPrompt((char *) switch_core_session_get_uuid(session), (char *) nz(msg->string_array_arg[0]),
								(char *) nz(msg->string_array_arg[1]), (char *) nz(msg->string_array_arg[2])) != 0) {
			status = SWITCH_STATUS_FALSE;
		}
		break;
	case SWITCH_MESSAGE_INDICATE_MEDIA_PARAMS:
		/* uuid_media_params, mod_conference: verto.mediaParams */
		if (msg->string_arg && xrtcGoChannelMediaParams((char *) switch_core_session_get_uuid(session), (char *) msg->string_arg) != 0) {
			status = SWITCH_STATUS_FALSE;
		}
		break;
	case SWITCH_MESSAGE_INDICATE_MEDIA_RENEG:
		/* uuid_media_reneg: a new offer through the re-attach path */
		xrtcGoChannelMediaReneg((char *) switch_core_session_get_uuid(session));
		break;
	case SWITCH_MESSAGE_INDICATE_HOLD:
	case SWITCH_MESSAGE_INDICATE_UNHOLD:
		/* Verto cannot ask the client to hold (mod_verto ignores it too):
		 * the client holds with verto.modify. */
		break;
	default:
		break;
	}
	return status;
}

/* fsctl recover, for a session of this endpoint: the private data and the
 * media handle (mod_rtc's rtc_recover_callback); the core then recovers its
 * media and calls mod_xrtc's secondary callback (xrtc_ext.c). */
static int xrtc_recover_callback(switch_core_session_t *session)
{
	switch_channel_t *channel = switch_core_session_get_channel(session);
	xrtc_pvt_t *tech_pvt = attach_pvt(session, switch_channel_direction(channel) == SWITCH_CALL_DIRECTION_INBOUND);

	return tech_pvt->smh ? 1 : 0;
}

/* The media settings of a recovered session, from its profile (called by
 * Go from the secondary callback, before the session runs). */
int xrtc_recover_setup(void *vsession, const xrtc_media_opts_t *m, int inbound)
{
	switch_core_session_t *session = (switch_core_session_t *) vsession;
	xrtc_pvt_t *tech_pvt = switch_core_session_get_private(session);

	if (!tech_pvt || !tech_pvt->smh || set_media_options(tech_pvt, m) != SWITCH_STATUS_SUCCESS) {
		return XRTC_FAIL;
	}
	tech_pvt->inbound = inbound;
	tech_pvt->sent_media = 1; /* answered before: no local answer to make */
	tech_pvt->recovering = 1;
	return XRTC_OK;
}

static switch_jb_t *xrtc_get_jb(switch_core_session_t *session, switch_media_type_t type)
{
	return switch_core_media_get_jb(session, type);
}

/* "xrtc/[profile/]user[@domain][;ctrl_uuid=...]": the Go core resolves it
 * and creates the channel through xrtc_new_outbound. */
static switch_call_cause_t xrtc_outgoing_channel(switch_core_session_t *session, switch_event_t *var_event,
												 switch_caller_profile_t *outbound_profile, switch_core_session_t **new_session,
												 switch_memory_pool_t **pool, switch_originate_flag_t flags, switch_call_cause_t *cancel_cause)
{
	xrtc_orig_ctx_t o = { 0 };
	xrtc_orig_req_t req = { 0 };
	switch_event_header_t *hp;
	int n = 0, cause;

	*new_session = NULL;
	if (!outbound_profile || zstr(outbound_profile->destination_number)) {
		return SWITCH_CAUSE_INVALID_NUMBER_FORMAT;
	}

	o.session = session;
	o.var_event = var_event;
	o.outbound_profile = outbound_profile;
	o.pool = pool;
	o.flags = flags;

	req.dest = outbound_profile->destination_number;
	req.uuid = var_event ? nz(switch_event_get_header(var_event, "origination_uuid")) : "";
	if (var_event) {
		for (hp = var_event->headers; hp; hp = hp->next) {
			n++;
		}
	}
	if (n) {
		req.vars.names = malloc(sizeof(char *) * n);
		req.vars.values = malloc(sizeof(char *) * n);
		for (hp = var_event->headers; hp && req.vars.count < n; hp = hp->next) {
			if (zstr(hp->name) || !hp->value) {
				continue;
			}
			req.vars.names[req.vars.count] = hp->name;
			req.vars.values[req.vars.count] = hp->value;
			req.vars.count++;
		}
	}
	req.caller.username = outbound_profile->username;
	req.caller.dialplan = outbound_profile->dialplan;
	req.caller.caller_id_name = outbound_profile->caller_id_name;
	req.caller.caller_id_number = outbound_profile->caller_id_number;
	req.caller.callee_id_name = outbound_profile->callee_id_name;
	req.caller.callee_id_number = outbound_profile->callee_id_number;
	req.caller.network_addr = outbound_profile->network_addr;
	req.caller.ani = outbound_profile->ani;
	req.caller.aniii = outbound_profile->aniii;
	req.caller.rdnis = outbound_profile->rdnis;
	req.caller.context = outbound_profile->context;
	req.caller.destination_number = outbound_profile->destination_number;

	cause = xrtcGoOriginate(&o, &req);

	switch_safe_free(req.vars.names);
	switch_safe_free(req.vars.values);

	/* 0: the channel was made; else the hang-up cause */
	if (cause != 0 || !o.new_session) {
		if (o.new_session) {
			switch_core_session_destroy(&o.new_session);
		}
		return cause ? (switch_call_cause_t) cause : SWITCH_CAUSE_DESTINATION_OUT_OF_ORDER;
	}
	if (switch_channel_get_state(switch_core_session_get_channel(o.new_session)) == CS_NEW) {
		switch_channel_set_state(switch_core_session_get_channel(o.new_session), CS_INIT);
	}
	*new_session = o.new_session;
	return SWITCH_CAUSE_SUCCESS;
}

static switch_io_routines_t xrtc_io_routines = {
	/*.outgoing_channel */ xrtc_outgoing_channel,
	/*.read_frame */ xrtc_read_frame,
	/*.write_frame */ xrtc_write_frame,
	/*.kill_channel */ xrtc_kill_channel,
	/*.send_dtmf */ xrtc_send_dtmf,
	/*.receive_message */ xrtc_receive_message,
	/*.receive_event */ NULL,
	/*.state_change */ NULL,
	/*.read_video_frame */ xrtc_read_video_frame,
	/*.write_video_frame */ xrtc_write_video_frame,
	/*.read_text_frame */ NULL,
	/*.write_text_frame */ NULL,
	/*.state_run */ NULL,
	/*.get_jb */ xrtc_get_jb
};

/* ------------------------------------------------------------------------
 * API command and module load/shutdown
 * ---------------------------------------------------------------------- */

SWITCH_STANDARD_API(xrtc_api_function)
{
	char *out = xrtcGoAPI((char *) nz(cmd));

	stream->write_function(stream, "%s", out ? out : "-ERR internal error\n");
	free(out);
	return SWITCH_STATUS_SUCCESS;
}

SWITCH_MODULE_LOAD_FUNCTION(mod_xrtc_load)
{
	switch_api_interface_t *api_interface = NULL;
	char path[1024];
	char *err = NULL;

	memset(&xrtc_globals, 0, sizeof(xrtc_globals));

	*module_interface = switch_loadable_module_create_module_interface(pool, modname);
	xrtc_globals.module = *module_interface;
	learn_stats_offset();
	xrtc_globals.endpoint = (switch_endpoint_interface_t *) switch_loadable_module_create_interface(*module_interface, SWITCH_ENDPOINT_INTERFACE);
	xrtc_globals.endpoint->interface_name = XRTC_EP_NAME;
	xrtc_globals.endpoint->io_routines = &xrtc_io_routines;
	xrtc_globals.endpoint->state_handler = &xrtc_state_handlers;
	xrtc_globals.endpoint->recover_callback = xrtc_recover_callback;

	switch_snprintf(path, sizeof(path), "%s%sautoload_configs%s%s", SWITCH_GLOBAL_dirs.conf_dir, SWITCH_PATH_SEPARATOR,
					SWITCH_PATH_SEPARATOR, XRTC_CONF_NAME);

	if (xrtcGoLoad(path, &err) != 0) {
		switch_log_printf(SWITCH_CHANNEL_LOG, SWITCH_LOG_ERROR, "mod_xrtc not loaded: %s\n", err ? err : "unknown error");
		free(err);
		return SWITCH_STATUS_GENERR;
	}

	switch_event_channel_bind(SWITCH_EVENT_CHANNEL_GLOBAL, xrtc_event_channel_func, &xrtc_globals.event_channel_id, NULL);
	xrtc_globals.bound = 1;

	SWITCH_ADD_API(api_interface, "xrtc", "xrtc endpoint (Verto over NATS)", xrtc_api_function, "status|calls|debug [0-7]|reload");
	xrtc_services_load(*module_interface); /* chat interface, xrtc_contact, events */
	switch_console_set_complete("add xrtc status");
	switch_console_set_complete("add xrtc calls");
	switch_console_set_complete("add xrtc debug");
	switch_console_set_complete("add xrtc reload");
	xrtc_ext_load(*module_interface, modname);

	return SWITCH_STATUS_SUCCESS;
}

/* Go cannot be unloaded (the .so is linked -z nodelete): the module stops
 * its endpoint and refuses to be unmapped. A later load starts a new
 * endpoint in the same Go runtime. */
SWITCH_MODULE_SHUTDOWN_FUNCTION(mod_xrtc_shutdown)
{
	if (xrtc_globals.bound) {
		switch_event_channel_unbind(NULL, xrtc_event_channel_func, NULL);
		xrtc_globals.bound = 0;
	}
	switch_console_set_complete("del xrtc");
	xrtc_services_shutdown();
	xrtc_ext_shutdown(modname);
	xrtcGoShutdown();
	return SWITCH_STATUS_NOUNLOAD;
}
