/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS 1.3 with mutual X.509 authentication on the migration channels
 * (Documentation/umemctl.rst, "Security").  `umemctl source` is the TLS
 * server, umemd the client.  The credentials are a directory laid out as
 * QEMU's tls-creds-x509 wants it: ca-cert.pem, server-cert.pem,
 * server-key.pem, client-cert.pem, client-key.pem; or, without a PKI,
 * tls-creds-psk's keys.psk ("username:hexkey" lines).
 *
 * tls_start() runs the handshake right after accept()/connect(), before
 * the wire hello, and returns the fd the wire protocol then uses in
 * plaintext:
 *  - the socket itself, its record layer handed to the kernel (kTLS);
 *  - or, where kTLS is missing or refused, one end of a socketpair that
 *    a thread pumps through user-space TLS to the socket.
 * Either way the callers' send, recv, poll, shutdown and io_uring code
 * runs unchanged.
 */
#ifndef UMEMCTL_TLS_H
#define UMEMCTL_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct tls_creds;

/*
 * Load the credentials in @dir for the server (source) or the client
 * (umemd): X.509 where @dir has ca-cert.pem, else PSK from keys.psk, the
 * client using the key of @username (NULL: "qemu", as QEMU).  @no_ktls
 * forces user-space TLS.  NULL with a reason in @err.
 */
struct tls_creds *tls_creds_load(const char *dir, bool server, bool no_ktls,
				 const char *username, char *err, size_t errlen);

/*
 * Accept only a peer named @name: its certificate's subject as RFC 2253
 * prints it ("CN=host,O=org", as QEMU's authz-simple identity), or, on a
 * PSK server, the client's username.  Repeatable; with none, every peer
 * the CA (or keys.psk) vouches for.  false: too many names.
 */
bool tls_creds_allow(struct tls_creds *c, const char *name);

/*
 * Handshake on the connected, blocking socket @fd within @timeout_ms.
 * A client checks that the server's certificate names @host.  On success
 * returns the fd to use (see above; closing it ends the session) and
 * describes the peer and the record layer in @peer; on failure returns
 * -1, has closed @fd and says why in @err.
 */
int tls_start(struct tls_creds *c, int fd, const char *host, int timeout_ms,
	      char *peer, size_t peerlen, char *err, size_t errlen);

#endif /* UMEMCTL_TLS_H */
