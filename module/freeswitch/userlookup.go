//go:build freeswitch

package main

/*
#include <switch.h>

// One user as switch_xml_locate_user_merged gives it: its id and
// number-alias, the params and variables of its (merged) first <params> and
// <variables>, in order. Strings are malloc'ed; xrtc_ul_free frees them.
typedef struct {
	char *id, *alias;
	char **pnames, **pvalues;
	int pcount;
	char **vnames, **vvalues;
	int vcount;
} xrtc_ul_user_t;

static int xrtc_ul_count(switch_xml_t list, const char *tag)
{
	int n = 0;
	switch_xml_t x;

	for (x = switch_xml_child(list, tag); x; x = x->next) {
		n++;
	}
	return n;
}

static void xrtc_ul_pairs(switch_xml_t user, const char *container, const char *tag, char ***names, char ***values, int *count)
{
	switch_xml_t list = switch_xml_child(user, container), x;
	int n = list ? xrtc_ul_count(list, tag) : 0, i = 0;

	*count = 0;
	if (n == 0) {
		return;
	}
	*names = calloc(n, sizeof(char *));
	*values = calloc(n, sizeof(char *));
	for (x = switch_xml_child(list, tag); x && i < n; x = x->next, i++) {
		(*names)[i] = strdup(switch_xml_attr_soft(x, "name"));
		(*values)[i] = strdup(switch_xml_attr_soft(x, "value"));
	}
	*count = i;
}

// xrtc_ul_lookup looks id@domain up as mod_verto's login does: key "id",
// the request headers in order (the client's loginParams, then action).
// 1: found (out filled), 0: not found, -1: failure.
static int xrtc_ul_lookup(char *id, char *domain, char **hnames, char **hvalues, int hcount, xrtc_ul_user_t *out)
{
	switch_xml_t x_user = NULL;
	switch_event_t *req = NULL;
	switch_status_t st;
	int i;

	memset(out, 0, sizeof(*out));
	if (switch_event_create(&req, SWITCH_EVENT_REQUEST_PARAMS) != SWITCH_STATUS_SUCCESS) {
		return -1;
	}
	for (i = 0; i < hcount; i++) {
		switch_event_add_header_string(req, SWITCH_STACK_BOTTOM, hnames[i], hvalues[i]);
	}
	st = switch_xml_locate_user_merged("id", id, domain, NULL, &x_user, req);
	switch_event_destroy(&req);
	if (st != SWITCH_STATUS_SUCCESS || !x_user) {
		return 0;
	}
	out->id = strdup(switch_xml_attr_soft(x_user, "id"));
	out->alias = strdup(switch_xml_attr_soft(x_user, "number-alias"));
	xrtc_ul_pairs(x_user, "params", "param", &out->pnames, &out->pvalues, &out->pcount);
	xrtc_ul_pairs(x_user, "variables", "variable", &out->vnames, &out->vvalues, &out->vcount);
	switch_xml_free(x_user);
	return 1;
}

static void xrtc_ul_free_list(char **l, int n)
{
	int i;

	for (i = 0; l && i < n; i++) {
		free(l[i]);
	}
	free(l);
}

static void xrtc_ul_free(xrtc_ul_user_t *u)
{
	free(u->id);
	free(u->alias);
	xrtc_ul_free_list(u->pnames, u->pcount);
	xrtc_ul_free_list(u->pvalues, u->pcount);
	xrtc_ul_free_list(u->vnames, u->vcount);
	xrtc_ul_free_list(u->vvalues, u->vcount);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"xccrtc/conf"
	"xccrtc/module/xrtc"
)

var _ xrtc.UserLookup = (*fsHost)(nil)

// LookupUser implements xrtc.UserLookup with FreeSWITCH's own user lookup
// (switch_xml_locate_user_merged, as mod_verto's login calls it), so that
// every directory backend FreeSWITCH has (XML, mod_xml_curl, Lua, ODBC)
// answers XCtrl. The lookup may block (a backend over HTTP): when ctx ends
// first, the answer is dropped when it comes.
func (h *fsHost) LookupUser(ctx context.Context, q xrtc.UserQuery) (*conf.User, error) {
	type answer struct {
		u   *conf.User
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		defer guard("user lookup")
		u, err := lookupUser(q)
		ch <- answer{u, err}
	}()
	select {
	case a := <-ch:
		return a.u, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("user lookup %s@%s: %w", q.ID, q.Domain, ctx.Err())
	}
}

func lookupUser(q xrtc.UserQuery) (*conf.User, error) {
	var m cmem
	defer m.free()
	names := make([]string, len(q.Params))
	values := make([]string, len(q.Params))
	for i, p := range q.Params {
		names[i], values[i] = p.Name, p.Value
	}
	var out C.xrtc_ul_user_t
	switch C.xrtc_ul_lookup(m.str(q.ID), m.str(q.Domain), m.strs(names), m.strs(values), C.int(len(names)), &out) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errors.New("FreeSWITCH could not build the lookup request")
	}
	defer C.xrtc_ul_free(&out)
	u := &conf.User{ID: C.GoString(out.id), NumberAlias: C.GoString(out.alias), Domain: q.Domain,
		Params: goPairs(out.pnames, out.pvalues, out.pcount), Variables: map[string]string{}}
	for _, v := range goPairs(out.vnames, out.vvalues, out.vcount) {
		u.Variables[v.Name] = v.Value
	}
	return u, nil
}

// goPairs copies C arrays of names and values.
func goPairs(names, values **C.char, n C.int) []conf.Pair {
	if n <= 0 || names == nil || values == nil {
		return nil
	}
	ns := unsafe.Slice(names, int(n))
	vs := unsafe.Slice(values, int(n))
	out := make([]conf.Pair, int(n))
	for i := range out {
		out[i] = conf.Pair{Name: C.GoString(ns[i]), Value: C.GoString(vs[i])}
	}
	return out
}
