#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mkcreds.sh OUT: TLS credentials for the postcopy tests, the demo and the
# bench, made with certtool (gnutls-bin), in QEMU's tls-creds-x509 layout,
# one directory per case, and OUT/creds.tar holding them all (the test VM
# gets that one file):
#   good/     ca-cert.pem, server-cert.pem, server-key.pem (the source,
#             10.99.0.1 and 127.0.0.1), client-cert.pem, client-key.pem
#             (CN=umem-destination)
#   nocert/   the CA only: a destination without a certificate
#   otherca/  a destination certificate from another CA
#   expired/  a destination certificate that expired in 2020
#   intruder/ a valid destination certificate, CN=umem-intruder (authz)
#   psk/      no PKI: keys.psk (QEMU's tls-creds-psk), username qemu
#   pskwrong/ keys.psk with another key for qemu
#   qemu/     QEMU's own migration stream, the other way round: the
#             destination QEMU (10.99.0.2) serves, the source connects
#             (make bench's QEMU-over-TLS cases)
# ECDSA P-256 keys: quick to make and to use under TCG.
set -eu

out=${1:?usage: mkcreds.sh OUT}
command -v certtool > /dev/null ||
	{ echo "mkcreds: certtool missing (apt-get install gnutls-bin)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cd "$out"
# Valid from yesterday: a guest clock a little behind still accepts them.
from=$(date -u -d '-1 day' '+%Y-%m-%d %H:%M:%S')

key() {
	certtool --generate-privkey --key-type=ecdsa --outfile "$1" 2> /dev/null
}

# ca NAME: a CA in NAME-key.pem, NAME-cert.pem
ca() {
	key "$1-key.pem"
	printf 'cn = "umem test CA %s"\nca\ncert_signing_key\nactivation_date = "%s"\nexpiration_days = 3650\n' \
		"$1" "$from" > "$1.tmpl"
	certtool --generate-self-signed --load-privkey "$1-key.pem" \
		--template "$1.tmpl" --outfile "$1-cert.pem" 2> /dev/null
}

# cert CA DIR FILE TEMPLATE-LINES: DIR/FILE-cert.pem, DIR/FILE-key.pem
cert() {
	mkdir -p "$2"
	key "$2/$3-key.pem"
	printf '%s\n' "$4" > "$2/$3.tmpl"
	certtool --generate-certificate --load-privkey "$2/$3-key.pem" \
		--load-ca-certificate "$1-cert.pem" --load-ca-privkey "$1-key.pem" \
		--template "$2/$3.tmpl" --outfile "$2/$3-cert.pem" 2> /dev/null
	rm "$2/$3.tmpl"
}

valid="activation_date = \"$from\"
expiration_days = 3650"
ca main
ca other
cert main good server "cn = \"umem-source\"
organization = \"umem tests\"
ip_address = \"10.99.0.1\"
ip_address = \"127.0.0.1\"
dns_name = \"localhost\"
tls_www_server
$valid"
client() {
	cert "$1" "$2" client "cn = \"$3\"
organization = \"umem tests\"
tls_www_client
$4"
}
client main good umem-destination "$valid"
client other otherca umem-destination "$valid"
client main expired umem-destination 'activation_date = "2020-01-01 00:00:00"
expiration_date = "2020-02-01 00:00:00"'
client main intruder umem-intruder "$valid"
cert main qemu server "cn = \"umem-qemu-destination\"
organization = \"umem tests\"
ip_address = \"10.99.0.2\"
tls_www_server
$valid"
client main qemu umem-qemu-source "$valid"
for d in good nocert otherca expired intruder qemu; do
	mkdir -p $d
	cp main-cert.pem $d/ca-cert.pem
done
rm -f ./*.tmpl ./*-key.pem main-cert.pem other-cert.pem
psk() {
	mkdir -p "$1"
	printf 'qemu:%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
		> "$1/keys.psk"
}
psk psk
psk pskwrong
tar cf creds.tar good nocert otherca expired intruder psk pskwrong qemu
