// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 on the migration channels: OpenSSL for the handshake, then the
 * kernel's TLS (kTLS) for the records, or a user-space pump where kTLS is
 * missing.  tls.h says what the callers see; Documentation/umemctl.rst,
 * "Security", why it is built this way.
 *
 * The handshake, then one verdict record from the server:
 *   client                              server
 *   ClientHello ------------------------>
 *             <------------ ServerHello ... Finished (asks for a cert)
 *   Certificate, Finished -------------->  verifies the client
 *             <------------ verdict: one byte of application data,
 *                           TLS_ACCEPTED, or TLS_REFUSED then close
 * In TLS 1.3 the client's handshake ends before the server has checked
 * the client's certificate, so without the verdict a refused client
 * would learn it only later, from a failed read.  The verdict also makes
 * the record counts known: the server has sent one record, the client
 * none, and no other record (no session tickets, no key update) ever
 * travels, so kTLS starts at sequence numbers 1 and 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS		282
#endif
#ifndef TCP_ULP
#define TCP_ULP		31
#endif

#define TLS_ACCEPTED	0x01
#define TLS_REFUSED	0x02	/* the peer's name is not allowed */
/* Only AEADs the kernel's TLS 1.3 offloads. */
#define TLS_SUITES	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
/* OpenSSL's PSK callbacks assume a SHA-256 suite. */
#define TLS_PSK_SUITES	"TLS_AES_128_GCM_SHA256"
#define SECRET_MAX	64
#define PSK_MAX		64
#define NAME_MAX_LEN	128
#define ALLOW_MAX	32

struct psk {
	char user[NAME_MAX_LEN];
	uint8_t key[PSK_MAX];
	size_t len;
};

struct tls_creds {
	SSL_CTX *ctx;
	bool server;
	bool no_ktls;
	struct psk *psk;	/* keys.psk, or NULL: X.509 */
	int npsk;
	char username[NAME_MAX_LEN];
	char *allow[ALLOW_MAX];
	int nallow;
};

/* One connection's traffic secrets, from OpenSSL's key log callback. */
struct tls_conn {
	uint8_t csec[SECRET_MAX], ssec[SECRET_MAX];
	size_t clen, slen;
	char psk_user[NAME_MAX_LEN];	/* PSK server: the client's username */
	bool psk_unknown;		/* ... which keys.psk lacks */
};

static bool ktls_warned;
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "LABEL CLIENT_RANDOM SECRET", in hex: keep the application secrets. */
static void keylog(const SSL *ssl, const char *line)
{
	struct tls_conn *t = SSL_get_app_data(ssl);
	const char *p;
	uint8_t *dst;
	size_t *len, n = 0;

	if (!t)
		return;
	if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24)) {
		dst = t->csec;
		len = &t->clen;
	} else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24)) {
		dst = t->ssec;
		len = &t->slen;
	} else {
		return;
	}
	p = strrchr(line, ' ');
	if (!p)
		return;
	for (p++; hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < SECRET_MAX;
	     p += 2)
		dst[n++] = hexval(p[0]) << 4 | hexval(p[1]);
	*len = n;
}

static void ssl_reason(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (!e) {
		snprintf(err, errlen, "%s", what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
	ERR_clear_error();
}

static bool file_ok(const char *dir, const char *name, char *path,
		    size_t len, char *err, size_t errlen)
{
	snprintf(path, len, "%s/%s", dir, name);
	if (access(path, R_OK)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

static const struct psk *psk_find(const struct tls_creds *c, const char *user)
{
	int i;

	for (i = 0; i < c->npsk; i++)
		if (!strcmp(c->psk[i].user, user))
			return &c->psk[i];
	return NULL;
}

/* keys.psk, as QEMU's tls-creds-psk reads it: "username:hexkey" lines. */
static bool psk_load(struct tls_creds *c, const char *path, char *err,
		     size_t errlen)
{
	char line[1024], *colon, *h;
	FILE *f = fopen(path, "r");
	struct psk *k;
	int n = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		colon = strchr(line, ':');
		k = realloc(c->psk, (c->npsk + 1) * sizeof(*k));
		if (!k)
			break;
		c->psk = k;
		k = &c->psk[c->npsk];
		memset(k, 0, sizeof(*k));
		if (!colon || colon == line ||
		    (size_t)(colon - line) >= sizeof(k->user)) {
			snprintf(err, errlen, "%s:%d: want username:hexkey", path, n);
			goto bad;
		}
		memcpy(k->user, line, colon - line);
		for (h = colon + 1; hexval(h[0]) >= 0 && hexval(h[1]) >= 0 &&
		     k->len < PSK_MAX; h += 2)
			k->key[k->len++] = hexval(h[0]) << 4 | hexval(h[1]);
		if (*h || k->len < 16) {
			snprintf(err, errlen,
				 "%s:%d: the key must be 16 to %d bytes in hex",
				 path, n, PSK_MAX);
			goto bad;
		}
		c->npsk++;
	}
	fclose(f);
	if (!c->npsk) {
		snprintf(err, errlen, "%s: no key", path);
		return false;
	}
	return true;
bad:
	OPENSSL_cleanse(k, sizeof(*k));
	fclose(f);
	return false;
}

static unsigned int psk_server_cb(SSL *ssl, const char *identity,
				  unsigned char *psk, unsigned int max)
{
	const struct tls_creds *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct tls_conn *t = SSL_get_app_data(ssl);
	const struct psk *k = psk_find(c, identity);

	if (t)
		snprintf(t->psk_user, sizeof(t->psk_user), "%s", identity);
	if (!k || k->len > max) {
		if (t)
			t->psk_unknown = true;
		return 0;
	}
	memcpy(psk, k->key, k->len);
	return k->len;
}

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
				  unsigned int max_id, unsigned char *psk,
				  unsigned int max)
{
	const struct tls_creds *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct psk *k = psk_find(c, c->username);

	if (!k || k->len > max || strlen(k->user) >= max_id)
		return 0;
	strcpy(identity, k->user);
	memcpy(psk, k->key, k->len);
	return k->len;
}

bool tls_creds_allow(struct tls_creds *c, const char *name)
{
	if (c->nallow == ALLOW_MAX)
		return false;
	c->allow[c->nallow] = strdup(name);
	return c->allow[c->nallow++];
}

struct tls_creds *tls_creds_load(const char *dir, bool server, bool no_ktls,
				 const char *username, char *err, size_t errlen)
{
	const char *cert = server ? "server-cert.pem" : "client-cert.pem";
	const char *key = server ? "server-key.pem" : "client-key.pem";
	struct tls_creds *c;
	char path[4096];
	SSL_CTX *ctx;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->server = server;
	c->no_ktls = no_ktls;
	snprintf(c->username, sizeof(c->username), "%s",
		 username ? username : "qemu");
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		ssl_reason(err, errlen, "cannot create a TLS context");
		free(c);
		return NULL;
	}
	c->ctx = ctx;
	SSL_CTX_set_app_data(ctx, c);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS_SUITES)) {
		ssl_reason(err, errlen, "cannot require TLS 1.3");
		goto fail;
	}
	/* No record but the verdict and the data: see the top of the file. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_keylog_callback(ctx, keylog);
	snprintf(path, sizeof(path), "%s/ca-cert.pem", dir);
	if (access(path, F_OK) && errno == ENOENT) {
		/* No PKI: QEMU's tls-creds-psk, keys.psk in the same place. */
		snprintf(path, sizeof(path), "%s/keys.psk", dir);
		if (access(path, F_OK) && errno == ENOENT) {
			snprintf(err, errlen, "%s has neither ca-cert.pem nor keys.psk",
				 dir);
			goto fail;
		}
		if (!psk_load(c, path, err, errlen))
			goto fail;
		if (!server && !psk_find(c, c->username)) {
			snprintf(err, errlen, "%s: no key for username '%s'",
				 path, c->username);
			goto fail;
		}
		if (!SSL_CTX_set_ciphersuites(ctx, TLS_PSK_SUITES)) {
			ssl_reason(err, errlen, "cannot require TLS 1.3");
			goto fail;
		}
		if (server)
			SSL_CTX_set_psk_server_callback(ctx, psk_server_cb);
		else
			SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
		return c;
	}
	if (!file_ok(dir, "ca-cert.pem", path, sizeof(path), err, errlen))
		goto fail;
	if (!SSL_CTX_load_verify_locations(ctx, path, NULL)) {
		ssl_reason(err, errlen, path);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, cert);
	/* As QEMU's, a client may have no certificate (and be refused). */
	if (!server && access(path, F_OK) && errno == ENOENT) {
		snprintf(path, sizeof(path), "%s/%s", dir, key);
		if (access(path, F_OK) && errno == ENOENT)
			goto verify;
	}
	if (!file_ok(dir, cert, path, sizeof(path), err, errlen))
		goto fail;
	if (!SSL_CTX_use_certificate_chain_file(ctx, path)) {
		ssl_reason(err, errlen, path);
		goto fail;
	}
	if (!file_ok(dir, key, path, sizeof(path), err, errlen))
		goto fail;
	if (!SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx)) {
		ssl_reason(err, errlen, path);
		goto fail;
	}
verify:
	/* Mutual: the server asks for the client's certificate and needs one. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	return c;
fail:
	SSL_CTX_free(ctx);
	if (c->psk)
		OPENSSL_cleanse(c->psk, c->npsk * sizeof(*c->psk));
	free(c->psk);
	free(c);
	return NULL;
}

/* HKDF-Expand-Label(secret, label, "", len) of RFC 8446, section 7.1. */
static bool expand_label(const EVP_MD *md, const uint8_t *secret, size_t slen,
			 const char *label, uint8_t *out, size_t len)
{
	uint8_t info[64];
	size_t ll = strlen(label), n = 0;
	OSSL_PARAM params[5], *p = params;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;
	bool ok;

	info[n++] = len >> 8;
	info[n++] = len;
	info[n++] = 6 + ll;
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0;		/* empty context */
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return false;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return false;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
					       (char *)EVP_MD_get0_name(md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, slen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	return ok;
}

union ktls_info {
	struct tls12_crypto_info_aes_gcm_128 g128;
	struct tls12_crypto_info_aes_gcm_256 g256;
};

/* Key, iv and sequence number of one direction, as the kernel wants them. */
static bool ktls_info(SSL *ssl, const uint8_t *secret, size_t slen,
		      uint64_t seq, union ktls_info *ki, size_t *kilen)
{
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);
	const EVP_MD *md = SSL_CIPHER_get_handshake_digest(ciph);
	uint8_t key[32], iv[12], rs[8];
	size_t klen;
	int i;

	memset(ki, 0, sizeof(*ki));
	switch (SSL_CIPHER_get_id(ciph) & 0xffff) {
	case 0x1301:		/* TLS_AES_128_GCM_SHA256 */
		klen = 16;
		ki->g128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		*kilen = sizeof(ki->g128);
		break;
	case 0x1302:		/* TLS_AES_256_GCM_SHA384 */
		klen = 32;
		ki->g256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		*kilen = sizeof(ki->g256);
		break;
	default:
		return false;
	}
	if (!md || !slen || !expand_label(md, secret, slen, "key", key, klen) ||
	    !expand_label(md, secret, slen, "iv", iv, sizeof(iv)))
		return false;
	for (i = 0; i < 8; i++)
		rs[i] = seq >> (56 - 8 * i);
	/* The kernel's salt and iv are the 12-byte TLS 1.3 iv, split. */
	if (klen == 16) {
		ki->g128.info.version = TLS_1_3_VERSION;
		memcpy(ki->g128.key, key, 16);
		memcpy(ki->g128.salt, iv, 4);
		memcpy(ki->g128.iv, iv + 4, 8);
		memcpy(ki->g128.rec_seq, rs, 8);
	} else {
		ki->g256.info.version = TLS_1_3_VERSION;
		memcpy(ki->g256.key, key, 32);
		memcpy(ki->g256.salt, iv, 4);
		memcpy(ki->g256.iv, iv + 4, 8);
		memcpy(ki->g256.rec_seq, rs, 8);
	}
	OPENSSL_cleanse(key, sizeof(key));
	return true;
}

/*
 * Hand the records to the kernel.  0; or -1 with the socket still plain
 * (fall back); or -2 with the socket half switched (the caller fails).
 */
static int ktls_start(struct tls_creds *c, SSL *ssl, int fd,
		      struct tls_conn *t, char *why, size_t whylen)
{
	union ktls_info tx, rx;
	size_t txlen, rxlen;
	bool ok;

	if (SSL_has_pending(ssl)) {
		snprintf(why, whylen, "records already buffered");
		return -1;
	}
	/* The verdict was the server's one record (seq 0). */
	ok = c->server ?
	     ktls_info(ssl, t->ssec, t->slen, 1, &tx, &txlen) &&
	     ktls_info(ssl, t->csec, t->clen, 0, &rx, &rxlen) :
	     ktls_info(ssl, t->csec, t->clen, 0, &tx, &txlen) &&
	     ktls_info(ssl, t->ssec, t->slen, 1, &rx, &rxlen);
	if (!ok) {
		snprintf(why, whylen, "cannot derive the record keys");
		return -1;
	}
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		snprintf(why, whylen, "TCP_ULP tls: %s%s", strerror(errno),
			 errno == ENOENT ? " (is the tls module loaded?)" : "");
		return -1;
	}
	ok = !setsockopt(fd, SOL_TLS, TLS_TX, &tx, txlen);
	OPENSSL_cleanse(&tx, sizeof(tx));
	if (!ok) {
		snprintf(why, whylen, "TLS_TX: %s", strerror(errno));
		OPENSSL_cleanse(&rx, sizeof(rx));
		return -1;
	}
	ok = !setsockopt(fd, SOL_TLS, TLS_RX, &rx, rxlen);
	OPENSSL_cleanse(&rx, sizeof(rx));
	if (!ok) {
		snprintf(why, whylen, "TLS_RX: %s", strerror(errno));
		return -2;
	}
	return 0;
}

/* ---- the user-space record layer: a pump thread ------------------------ */

struct pump {
	SSL *ssl;
	int net, app;
	uint8_t in[16384], out[16384];	/* net->app and app->net */
	size_t in_off, in_len, out_off, out_len;
};

/*
 * One thread moves plaintext between the caller's end of a socketpair and
 * the TLS session on the socket (an SSL object is not safe in two threads
 * at once), with both descriptors non-blocking.  EOF or an error on either
 * side ends both.
 */
static void *pump_thread(void *arg)
{
	struct pump *p = arg;
	bool done = false;

	while (!done) {
		short nev = 0, aev = 0;
		bool progress = true;

		while (progress && !done) {
			ssize_t n;
			int r, e;

			progress = false;
			if (!p->in_len) {
				r = SSL_read(p->ssl, p->in, sizeof(p->in));
				if (r > 0) {
					p->in_off = 0;
					p->in_len = r;
					progress = true;
				} else {
					e = SSL_get_error(p->ssl, r);
					if (e == SSL_ERROR_WANT_READ)
						nev |= POLLIN;
					else if (e == SSL_ERROR_WANT_WRITE)
						nev |= POLLOUT;
					else
						done = true;
				}
			}
			if (p->in_len) {
				n = send(p->app, p->in + p->in_off, p->in_len,
					 MSG_NOSIGNAL);
				if (n > 0) {
					p->in_off += n;
					p->in_len -= n;
					progress = true;
				} else if (n < 0 && errno == EAGAIN) {
					aev |= POLLOUT;
				} else if (n < 0 && errno != EINTR) {
					done = true;
				}
			}
			if (!p->out_len) {
				n = read(p->app, p->out, sizeof(p->out));
				if (n > 0) {
					p->out_off = 0;
					p->out_len = n;
					progress = true;
				} else if (n < 0 && errno == EAGAIN) {
					aev |= POLLIN;
				} else if (!n || errno != EINTR) {
					done = true;
				}
			}
			if (p->out_len) {
				r = SSL_write(p->ssl, p->out + p->out_off,
					      p->out_len);
				if (r > 0) {
					p->out_off += r;
					p->out_len -= r;
					progress = true;
				} else {
					e = SSL_get_error(p->ssl, r);
					if (e == SSL_ERROR_WANT_READ)
						nev |= POLLIN;
					else if (e == SSL_ERROR_WANT_WRITE)
						nev |= POLLOUT;
					else
						done = true;
				}
			}
			if (progress)
				nev = aev = 0;
		}
		if (!done) {
			struct pollfd pfd[2] = {
				{ .fd = p->net, .events = nev },
				{ .fd = p->app, .events = aev },
			};

			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				done = true;
			if ((pfd[0].revents | pfd[1].revents) & (POLLERR | POLLNVAL))
				done = true;
		}
	}
	shutdown(p->app, SHUT_RDWR);
	shutdown(p->net, SHUT_RDWR);
	close(p->app);
	close(p->net);
	SSL_free(p->ssl);
	free(p);
	return NULL;
}

/* Start the pump; returns the caller's end of the socketpair, or -1. */
static int pump_start(SSL *ssl, int fd, char *err, size_t errlen)
{
	pthread_attr_t attr;
	struct pump *p;
	pthread_t th;
	int sv[2];

	p = calloc(1, sizeof(*p));
	if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "user-space TLS: %s", strerror(errno));
		free(p);
		return -1;
	}
	p->ssl = ssl;
	p->net = fd;
	p->app = sv[1];
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, pump_thread, p)) {
		snprintf(err, errlen, "user-space TLS: cannot start its thread");
		pthread_attr_destroy(&attr);
		close(sv[0]);
		close(sv[1]);
		free(p);
		return -1;
	}
	pthread_attr_destroy(&attr);
	return sv[0];
}

/* ---- the handshake ------------------------------------------------------ */

/* A certificate's subject as RFC 2253 prints it, as QEMU's authz names. */
static void cert_name(X509 *x, char *buf, size_t len)
{
	BIO *b;
	int n;

	snprintf(buf, len, "(no certificate)");
	if (!x)
		return;
	b = BIO_new(BIO_s_mem());
	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
				    XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(b, buf, len - 1);
		buf[n > 0 ? n : 0] = 0;
	}
	BIO_free(b);
}

static void peer_name(SSL *ssl, char *buf, size_t len)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	cert_name(x, buf, len);
	X509_free(x);
}

/* Why the handshake failed, as precisely as OpenSSL knows. */
static void handshake_reason(SSL *ssl, int r, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	int e = SSL_get_error(ssl, r);
	int saved = errno;

	if (v != X509_V_OK) {
		snprintf(err, errlen, "the peer's certificate: %s",
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
	} else if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
		   (ERR_GET_REASON(ERR_peek_error()) == SSL_R_WRONG_VERSION_NUMBER ||
		    ERR_GET_REASON(ERR_peek_error()) == SSL_R_PACKET_LENGTH_TOO_LONG ||
		    ERR_GET_REASON(ERR_peek_error()) == SSL_R_RECORD_LENGTH_MISMATCH)) {
		snprintf(err, errlen, "the peer does not speak TLS (a peer without TLS?)");
		ERR_clear_error();
	} else if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
		   ERR_GET_REASON(ERR_peek_error()) == SSL_R_BINDER_DOES_NOT_VERIFY) {
		snprintf(err, errlen,
			 "the peer's key for its PSK username is not the one in keys.psk (binder does not verify)");
		ERR_clear_error();
	} else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		snprintf(err, errlen,
			 "the connection closed during the handshake (%s; a peer without TLS?)",
			 saved == EAGAIN ? "timed out" :
			 saved ? strerror(saved) : "EOF");
	} else {
		ssl_reason(err, errlen, "handshake failed");
	}
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int tls_start(struct tls_creds *c, int fd, const char *host, int timeout_ms,
	      char *peer, size_t peerlen, char *err, size_t errlen)
{
	struct tls_conn t = { };
	struct in6_addr a6;
	char dn[512], name[600], why[160];
	bool allowed;
	uint8_t verdict;
	SSL *ssl;
	int r, out, i;

	ERR_clear_error();
	ssl = SSL_new(c->ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		ssl_reason(err, errlen, "cannot start TLS");
		goto fail;
	}
	SSL_set_app_data(ssl, &t);
	set_timeout(fd, timeout_ms);
	if (!c->server) {
		/* As QEMU: the server's certificate must name the host dialled. */
		if (inet_pton(AF_INET, host, &a6) == 1 ||
		    inet_pton(AF_INET6, host, &a6) == 1) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		} else {
			SSL_set1_host(ssl, host);
			SSL_set_tlsext_host_name(ssl, host);
		}
	}
	if (c->server && recv(fd, &verdict, 1, MSG_PEEK) == 1 && verdict != 0x16) {
		/* Not a TLS handshake record: most likely a plain hello. */
		snprintf(err, errlen,
			 "the peer does not speak TLS (a umemd without TLS?)");
		goto fail;
	}
	r = c->server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r != 1 && t.psk_unknown) {
		snprintf(err, errlen, "unknown PSK username '%s'", t.psk_user);
		goto fail;
	}
	if (r != 1) {
		handshake_reason(ssl, r, err, errlen);
		if (c->psk && !c->server)
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (is the key of '%s' in keys.psk the source's?)",
				 c->username);
		goto fail;
	}
	if (c->psk && c->server)
		snprintf(dn, sizeof(dn), "%s", t.psk_user);
	else if (!c->psk)
		peer_name(ssl, dn, sizeof(dn));
	/* The name the server's --tls-authz judges: the client's. */
	if (c->psk)
		snprintf(name, sizeof(name), "PSK username %s",
			 c->server ? t.psk_user : c->username);
	else if (c->server)
		snprintf(name, sizeof(name), "%s", dn);
	else
		cert_name(SSL_get_certificate(ssl), name, sizeof(name));
	/* A PSK client's peer is whoever holds the key: no name to check. */
	allowed = !c->nallow || (c->psk && !c->server);
	for (i = 0; i < c->nallow && !allowed; i++)
		allowed = !strcmp(c->allow[i], dn);
	if (c->server) {
		verdict = allowed ? TLS_ACCEPTED : TLS_REFUSED;
		if (SSL_write(ssl, &verdict, 1) != 1) {
			ssl_reason(err, errlen, "cannot send the verdict");
			goto fail;
		}
		if (!allowed) {
			snprintf(err, errlen, "the peer '%s' is not in --tls-authz",
				 dn);
			goto fail;
		}
	} else {
		if (!allowed) {
			snprintf(err, errlen, "the source '%s' is not in --tls-authz",
				 dn);
			goto fail;
		}
		r = SSL_read(ssl, &verdict, 1);
		if (r != 1) {
			handshake_reason(ssl, r, err, errlen);
			goto fail;
		}
		if (verdict != TLS_ACCEPTED) {
			snprintf(err, errlen, verdict == TLS_REFUSED ?
				 "the source does not allow this destination's name, '%s' (its --tls-authz)" :
				 "the source refused this destination ('%s')",
				 name);
			goto fail;
		}
	}
	SSL_set_app_data(ssl, NULL);
	set_timeout(fd, 0);

	why[0] = 0;
	r = c->no_ktls ? -1 : ktls_start(c, ssl, fd, &t, why, sizeof(why));
	OPENSSL_cleanse(&t, sizeof(t));
	if (r == -2) {
		snprintf(err, errlen, "kernel TLS: %s", why);
		goto fail;
	}
	snprintf(peer, peerlen, "%s, %s %s, %s",
		 c->psk ? (c->server ? name : "PSK") : dn, SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl), r ? "user-space TLS" : "kernel TLS");
	if (!r) {
		SSL_free(ssl);
		return fd;
	}
	pthread_mutex_lock(&warn_lock);
	if (!ktls_warned && !c->no_ktls)
		fprintf(stderr, "%s: kernel TLS unavailable (%s): TLS runs in user space, slower\n",
			c->server ? "source" : "umemd", why);
	ktls_warned = true;
	pthread_mutex_unlock(&warn_lock);
	out = pump_start(ssl, fd, err, errlen);
	if (out < 0)
		goto fail;
	return out;
fail:
	OPENSSL_cleanse(&t, sizeof(t));
	SSL_free(ssl);
	close(fd);
	return -1;
}
