/* Community ID v1 flow hash (https://github.com/corelight/community-id-spec),
 * byte-compatible with Zeek, Suricata, ntopng and pycommunityid. */
#ifndef FL_COMMUNITY_ID_H
#define FL_COMMUNITY_ID_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the result including the NUL: "1:" + 28 base64 chars + NUL = 31. */
#define FL_COMMUNITY_ID_LEN 32

/* Computes the Community ID v1 of a flow.
 *
 * src/dst: addresses as network-order bytes; for ip_version 4 only the first
 *          4 bytes of each are read.
 * proto:   IP protocol number. Ports are hashed for TCP (6), UDP (17),
 *          SCTP (132), ICMP (1) and ICMPv6 (58) only; for any other protocol
 *          sport/dport are ignored.
 * sport/dport: host-order port numbers. For ICMP/ICMPv6 pass sport = ICMP type
 *          and dport = ICMP code; the spec's type/code mapping is applied here.
 * seed:    hash seed, 0 by default in every other implementation.
 *
 * out must hold at least 32 bytes; writes a NUL-terminated "1:<base64>" string.
 * Returns 0, or -1 for an ip_version other than 4/6 (out is then "").
 * Thread-safe, allocation-free. */
int fl_community_id(uint8_t ip_version, const uint8_t src[16], const uint8_t dst[16],
                    uint8_t proto, uint16_t sport, uint16_t dport, uint16_t seed, char out[32]);

/* The reply type paired with an ICMP (proto 1) or ICMPv6 (58) request type and vice versa, or
 * -1 for a one-way type: the flow table keys ICMP flows the same way, so echo request and reply
 * share a flow while an unreachable is a flow of its own. */
int fl_icmp_counterpart(uint8_t proto, uint16_t type);

/* SHA-1 of msg[0..len), len <= 55 (one block), with the CPU's SHA instructions when `accel`
 * and the CPU has them. Exposed so tests can hold both implementations to the same digests. */
void fl_sha1_short(const uint8_t *msg, unsigned len, uint8_t digest[20], int accel);

#ifdef __cplusplus
}
#endif

#endif
