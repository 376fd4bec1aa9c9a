package verto

import "strconv"

// Cause is a FreeSWITCH hang-up cause (switch_call_cause_t). Verto carries
// it as a name ("cause") and a number ("causeCode").
type Cause int

// Hang-up causes, numbered as FreeSWITCH's switch_types.h numbers them.
const (
	CauseNone                    Cause = 0
	CauseUnallocatedNumber       Cause = 1
	CauseNoRouteTransitNet       Cause = 2
	CauseNoRouteDestination      Cause = 3
	CauseChannelUnacceptable     Cause = 6
	CauseCallAwardedDelivered    Cause = 7
	CauseNormalClearing          Cause = 16
	CauseUserBusy                Cause = 17
	CauseNoUserResponse          Cause = 18
	CauseNoAnswer                Cause = 19
	CauseSubscriberAbsent        Cause = 20
	CauseCallRejected            Cause = 21
	CauseNumberChanged           Cause = 22
	CauseRedirectionToNewDest    Cause = 23
	CauseExchangeRoutingError    Cause = 25
	CauseDestinationOutOfOrder   Cause = 27
	CauseInvalidNumberFormat     Cause = 28
	CauseFacilityRejected        Cause = 29
	CauseResponseToStatusEnquiry Cause = 30
	CauseNormalUnspecified       Cause = 31
	CauseNormalCircuitCongestion Cause = 34
	CauseNetworkOutOfOrder       Cause = 38
	CauseNormalTemporaryFailure  Cause = 41
	CauseSwitchCongestion        Cause = 42
	CauseAccessInfoDiscarded     Cause = 43
	CauseRequestedChanUnavail    Cause = 44
	CausePreEmpted               Cause = 45
	CauseFacilityNotSubscribed   Cause = 50
	CauseOutgoingCallBarred      Cause = 52
	CauseIncomingCallBarred      Cause = 54
	CauseBearerCapNotAuth        Cause = 57
	CauseBearerCapNotAvail       Cause = 58
	CauseServiceUnavailable      Cause = 63
	CauseBearerCapNotImpl        Cause = 65
	CauseChanNotImplemented      Cause = 66
	CauseFacilityNotImplemented  Cause = 69
	CauseServiceNotImplemented   Cause = 79
	CauseInvalidCallReference    Cause = 81
	CauseIncompatibleDestination Cause = 88
	CauseInvalidMsgUnspecified   Cause = 95
	CauseMandatoryIEMissing      Cause = 96
	CauseMessageTypeNonexist     Cause = 97
	CauseWrongMessage            Cause = 98
	CauseIENonexist              Cause = 99
	CauseInvalidIEContents       Cause = 100
	CauseWrongCallState          Cause = 101
	CauseRecoveryOnTimerExpire   Cause = 102
	CauseMandatoryIELengthError  Cause = 103
	CauseProtocolError           Cause = 111
	CauseInterworking            Cause = 127
	CauseSuccess                 Cause = 142
	CauseOriginatorCancel        Cause = 487
	CauseCrash                   Cause = 700
	CauseSystemShutdown          Cause = 701
	CauseLoseRace                Cause = 702
	CauseManagerRequest          Cause = 703
	CauseBlindTransfer           Cause = 800
	CauseAttendedTransfer        Cause = 801
	CauseAllottedTimeout         Cause = 802
	CauseUserChallenge           Cause = 803
	CauseMediaTimeout            Cause = 804
	CausePickedOff               Cause = 805
	CauseUserNotRegistered       Cause = 806
	CauseProgressTimeout         Cause = 807
	CauseInvalidGateway          Cause = 808
	CauseGatewayDown             Cause = 809
	CauseInvalidURL              Cause = 810
	CauseInvalidProfile          Cause = 811
	CauseNoPickup                Cause = 812
	CauseSRTPReadError           Cause = 813
	CauseBowout                  Cause = 814
	CauseBusyEverywhere          Cause = 815
	CauseDecline                 Cause = 816
	CauseDoesNotExistAnywhere    Cause = 817
	CauseNotAcceptable           Cause = 818
	CauseUnwanted                Cause = 819
	CauseNoIdentity              Cause = 820
	CauseBadIdentityInfo         Cause = 821
	CauseUnsupportedCertificate  Cause = 822
	CauseInvalidIdentity         Cause = 823
	CauseStaleDate               Cause = 824
	CauseRejectAll               Cause = 825
)

var causeNames = map[Cause]string{
	CauseNone: "NONE", CauseUnallocatedNumber: "UNALLOCATED_NUMBER",
	CauseNoRouteTransitNet: "NO_ROUTE_TRANSIT_NET", CauseNoRouteDestination: "NO_ROUTE_DESTINATION",
	CauseChannelUnacceptable: "CHANNEL_UNACCEPTABLE", CauseCallAwardedDelivered: "CALL_AWARDED_DELIVERED",
	CauseNormalClearing: "NORMAL_CLEARING", CauseUserBusy: "USER_BUSY",
	CauseNoUserResponse: "NO_USER_RESPONSE", CauseNoAnswer: "NO_ANSWER",
	CauseSubscriberAbsent: "SUBSCRIBER_ABSENT", CauseCallRejected: "CALL_REJECTED",
	CauseNumberChanged: "NUMBER_CHANGED", CauseRedirectionToNewDest: "REDIRECTION_TO_NEW_DESTINATION",
	CauseExchangeRoutingError: "EXCHANGE_ROUTING_ERROR", CauseDestinationOutOfOrder: "DESTINATION_OUT_OF_ORDER",
	CauseInvalidNumberFormat: "INVALID_NUMBER_FORMAT", CauseFacilityRejected: "FACILITY_REJECTED",
	CauseResponseToStatusEnquiry: "RESPONSE_TO_STATUS_ENQUIRY", CauseNormalUnspecified: "NORMAL_UNSPECIFIED",
	CauseNormalCircuitCongestion: "NORMAL_CIRCUIT_CONGESTION", CauseNetworkOutOfOrder: "NETWORK_OUT_OF_ORDER",
	CauseNormalTemporaryFailure: "NORMAL_TEMPORARY_FAILURE", CauseSwitchCongestion: "SWITCH_CONGESTION",
	CauseAccessInfoDiscarded: "ACCESS_INFO_DISCARDED", CauseRequestedChanUnavail: "REQUESTED_CHAN_UNAVAIL",
	CausePreEmpted: "PRE_EMPTED", CauseFacilityNotSubscribed: "FACILITY_NOT_SUBSCRIBED",
	CauseOutgoingCallBarred: "OUTGOING_CALL_BARRED", CauseIncomingCallBarred: "INCOMING_CALL_BARRED",
	CauseBearerCapNotAuth: "BEARERCAPABILITY_NOTAUTH", CauseBearerCapNotAvail: "BEARERCAPABILITY_NOTAVAIL",
	CauseServiceUnavailable: "SERVICE_UNAVAILABLE", CauseBearerCapNotImpl: "BEARERCAPABILITY_NOTIMPL",
	CauseChanNotImplemented: "CHAN_NOT_IMPLEMENTED", CauseFacilityNotImplemented: "FACILITY_NOT_IMPLEMENTED",
	CauseServiceNotImplemented: "SERVICE_NOT_IMPLEMENTED", CauseInvalidCallReference: "INVALID_CALL_REFERENCE",
	CauseIncompatibleDestination: "INCOMPATIBLE_DESTINATION", CauseInvalidMsgUnspecified: "INVALID_MSG_UNSPECIFIED",
	CauseMandatoryIEMissing: "MANDATORY_IE_MISSING", CauseMessageTypeNonexist: "MESSAGE_TYPE_NONEXIST",
	CauseWrongMessage: "WRONG_MESSAGE", CauseIENonexist: "IE_NONEXIST",
	CauseInvalidIEContents: "INVALID_IE_CONTENTS", CauseWrongCallState: "WRONG_CALL_STATE",
	CauseRecoveryOnTimerExpire: "RECOVERY_ON_TIMER_EXPIRE", CauseMandatoryIELengthError: "MANDATORY_IE_LENGTH_ERROR",
	CauseProtocolError: "PROTOCOL_ERROR", CauseInterworking: "INTERWORKING",
	CauseSuccess: "SUCCESS", CauseOriginatorCancel: "ORIGINATOR_CANCEL",
	CauseCrash: "CRASH", CauseSystemShutdown: "SYSTEM_SHUTDOWN",
	CauseLoseRace: "LOSE_RACE", CauseManagerRequest: "MANAGER_REQUEST",
	CauseBlindTransfer: "BLIND_TRANSFER", CauseAttendedTransfer: "ATTENDED_TRANSFER",
	CauseAllottedTimeout: "ALLOTTED_TIMEOUT", CauseUserChallenge: "USER_CHALLENGE",
	CauseMediaTimeout: "MEDIA_TIMEOUT", CausePickedOff: "PICKED_OFF",
	CauseUserNotRegistered: "USER_NOT_REGISTERED", CauseProgressTimeout: "PROGRESS_TIMEOUT",
	CauseInvalidGateway: "INVALID_GATEWAY", CauseGatewayDown: "GATEWAY_DOWN",
	CauseInvalidURL: "INVALID_URL", CauseInvalidProfile: "INVALID_PROFILE",
	CauseNoPickup: "NO_PICKUP", CauseSRTPReadError: "SRTP_READ_ERROR",
	CauseBowout: "BOWOUT", CauseBusyEverywhere: "BUSY_EVERYWHERE",
	CauseDecline: "DECLINE", CauseDoesNotExistAnywhere: "DOES_NOT_EXIST_ANYWHERE",
	CauseNotAcceptable: "NOT_ACCEPTABLE", CauseUnwanted: "UNWANTED",
	CauseNoIdentity: "NO_IDENTITY", CauseBadIdentityInfo: "BAD_IDENTITY_INFO",
	CauseUnsupportedCertificate: "UNSUPPORTED_CERTIFICATE", CauseInvalidIdentity: "INVALID_IDENTITY",
	CauseStaleDate: "STALE_DATE", CauseRejectAll: "REJECT_ALL",
}

var causeByName = func() map[string]Cause {
	m := make(map[string]Cause, len(causeNames))
	for c, n := range causeNames {
		m[n] = c
	}
	return m
}()

// String returns the cause's FreeSWITCH name, e.g. "NORMAL_CLEARING".
func (c Cause) String() string {
	if n, ok := causeNames[c]; ok {
		return n
	}
	return "CAUSE_" + strconv.Itoa(int(c))
}

// Known reports whether c is a cause FreeSWITCH defines.
func (c Cause) Known() bool { _, ok := causeNames[c]; return ok }

// ParseCause reads a cause by name ("USER_BUSY") or number ("17"), as
// verto.bye's cause / causeCode arrive. Unknown input gives false.
func ParseCause(s string) (Cause, bool) {
	if c, ok := causeByName[s]; ok {
		return c, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		c := Cause(n)
		return c, c.Known()
	}
	return CauseNone, false
}
