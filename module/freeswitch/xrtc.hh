//go:build freeswitch

/*
 * xrtc.hh: the plain-C surface between the Go binding and mod_xrtc.c.
 *
 * Nothing here includes switch.h: cgo only sees plain C types, FreeSWITCH
 * pointers cross as void *. mod_xrtc.c implements the xrtc_* helpers on
 * FreeSWITCH's API; the xrtcGo* functions it calls are exported by the Go
 * side (see _cgo_export.h).
 *
 * The name ends in .hh (any C header name Go tracks would do) because the
 * repository ignores module/freeswitch/*.h, where c-shared builds drop the
 * generated mod_xrtc.h.
 */
#ifndef MOD_XRTC_H
#define MOD_XRTC_H

#include <stdint.h>
#include <stdlib.h>

/* Results of the channel helpers (mapped to xrtc errors in channel.go). */
enum {
	XRTC_OK = 0,
	XRTC_GONE = 1,          /* no such session, or it hung up */
	XRTC_BAD_SDP = 2,       /* the SDP does not parse */
	XRTC_CODEC = 3,         /* nothing in common */
	XRTC_FAIL = 4,          /* anything else */
	XRTC_NOT_BRIDGED = 5,   /* no bridged partner */
	XRTC_NOT_SUPPORTED = 6,
	XRTC_SHUTDOWN = 7       /* the module is being unloaded */
};

/* FreeSWITCH log levels (switch_log_level_t). */
enum {
	XRTC_LOG_DEBUG = 7,
	XRTC_LOG_INFO = 6,
	XRTC_LOG_NOTICE = 5,
	XRTC_LOG_WARNING = 4,
	XRTC_LOG_ERROR = 3,
	XRTC_LOG_CRIT = 2
};

/* Media settings of one call, from its xrtc profile. */
typedef struct {
	const char *rtp_ip4;
	const char *rtp_ip6;
	const char *ext_rtp_ip;
	const char *inbound_codec_string;
	const char *outbound_codec_string;
	const char *jb_msec;
	const char *timer_name;
	const char *local_network;
	const char **cand_acl;
	int cand_acl_count;
	int enable_text;              /* real-time text (xrtc_ext.c) */
} xrtc_media_opts_t;

/* A caller profile. */
typedef struct {
	const char *username;
	const char *dialplan;
	const char *caller_id_name;
	const char *caller_id_number;
	const char *callee_id_name;
	const char *callee_id_number;
	const char *network_addr;
	const char *ani;
	const char *aniii;
	const char *rdnis;
	const char *source;
	const char *context;
	const char *destination_number;
} xrtc_caller_t;

/* Channel variables. */
typedef struct {
	const char **names;
	const char **values;
	int count;
} xrtc_vars_t;

/* What outgoing_channel hands the Go core for "xrtc/..." (owned by C). */
typedef struct {
	const char *dest;             /* what follows "xrtc/" */
	const char *uuid;             /* origination_uuid, or "" */
	xrtc_vars_t vars;             /* the originate's variables */
	xrtc_caller_t caller;         /* the outbound caller profile */
} xrtc_orig_req_t;

/* The switch's identity and load. */
typedef struct {
	char core_uuid[128];
	char hostname[256];
	char version[128];
	char ip[128];
	char domain[256];
	int sessions;
	int sessions_max;
	long long sessions_since_startup;
	int session_peak_max;
	int sps_last;
	int sps_max;
} xrtc_status_t;

typedef struct {
	uint64_t rtp_packets_in;
	uint64_t rtp_bytes_in;
	uint64_t rtp_packets_out;
	int has_rtp;
	int bypass;                   /* proxy mode: the media does not pass here */
	int held;                     /* CF_PROTO_HOLD */
} xrtc_stats_t;

/* A chat message (verto.info msg). */
typedef struct {
	const char *from;
	const char *to;
	const char *body;
	const char *call_id;
	const char *sessid;
	const char *profile;
	int in_dialog;
	const char *context;          /* the chat plan's context */
	xrtc_vars_t headers;          /* the msg's from_* and to_* */
} xrtc_chat_t;

/* ---- implemented in mod_xrtc.c, called from Go ---- */
void xrtc_log(int level, const char *uuid, const char *msg);
char *xrtc_global_var(const char *name); /* malloc'd or NULL */
char *xrtc_stun_lookup(const char *value); /* malloc'd or NULL */
void xrtc_host_status(xrtc_status_t *out);

int xrtc_new_inbound(const char *uuid, const char *name, const xrtc_media_opts_t *m, const char *sdp,
					 const xrtc_caller_t *cp, const xrtc_vars_t *vars);
int xrtc_new_outbound(void *octx, const char *uuid, const char *name, const xrtc_media_opts_t *m,
					  const xrtc_caller_t *cp, const xrtc_vars_t *vars);

int xrtc_offer(const char *uuid, char **sdp_out);
int xrtc_set_remote_answer(const char *uuid, const char *sdp);
int xrtc_renegotiate(const char *uuid, const char *offer, char **sdp_out);
int xrtc_mark_ringing(const char *uuid);
int xrtc_mark_answered(const char *uuid);
int xrtc_detach(const char *uuid);
int xrtc_hangup(const char *uuid, int cause);
int xrtc_queue_dtmf(const char *uuid, const char *digits);
int xrtc_hold(const char *uuid, int on);
int xrtc_transfer(const char *uuid, const char *dest, const char *dialplan, const char *context);
int xrtc_replace(const char *uuid, const char *other_uuid);
int xrtc_partner(const char *uuid, char **out);
int xrtc_refresh_video(const char *uuid);
int xrtc_queue_command(const char *uuid, const char *json);
int xrtc_set_vars(const char *uuid, const xrtc_vars_t *vars);
int xrtc_media_stats(const char *uuid, xrtc_stats_t *out);

int xrtc_broadcast(const char *channel, const char *json);
int xrtc_send_chat(const xrtc_chat_t *chat);

/* A call FreeSWITCH recovered (fsctl recover), from its channel. */
typedef struct {
	const char *uuid;
	const char *profile;          /* verto_profile_name */
	const char *sessid;           /* jsock_uuid_str */
	const char *ctrl_uuid;        /* xrtc_ctrl_uuid */
	const char *login;            /* verto_user */
	int outbound;                 /* a call to a user */
	const char *caller_id_name;
	const char *caller_id_number;
	const char *callee_id_name;
	const char *callee_id_number;
	const char *destination_number;
} xrtc_recovered_t;

/* mod_xrtc.c: the media of a recovered session, from its profile */
int xrtc_recover_setup(void *session, const xrtc_media_opts_t *m, int inbound);

/* xrtc_ext.c (sessions and channels cross as void *) */
char *xrtc_identity(const char *uuid);        /* malloc'd JSON or NULL */
char *xrtc_identity_json(void *channel);      /* malloc'd JSON */
int xrtc_text_enable(void *session);
void xrtc_text_destroy(void *session);
int xrtc_send_text(const char *uuid, const char *chars);
void xrtc_ext_load(void *module_interface, const char *modname);
void xrtc_ext_shutdown(const char *modname);

#endif
