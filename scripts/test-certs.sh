#!/usr/bin/env bash
# Throwaway TLS certificates for the tests (and for trying TLS by hand): never for production.
#   scripts/test-certs.sh DIR   writes into DIR (created):
#     ca.pem, ca.key                 a test certificate authority
#     server.pem, server.key         a server certificate signed by it for DNS:localhost and
#                                    IP:127.0.0.1 (not 127.0.0.2: a name check against that
#                                    address must fail)
#     client.pem, client.key         a client certificate signed by it (CN=cdc-test-client)
#     other-ca.pem                   a second, unrelated CA: verifying against it must fail
# Keys are unencrypted RSA 2048, readable by their owner only; when run as root, DIR and the
# files are handed to the user named by CERT_OWNER (e.g. postgres), if set.
set -euo pipefail

dir=${1:-}
[ -n "$dir" ] || { echo "usage: $0 DIR" >&2; exit 2; }
command -v openssl >/dev/null || { echo "test-certs: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

days=3650
subj() { printf '/O=cdc tests/CN=%s' "$1"; }

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "$(subj 'cdc test CA')" \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "$(subj 'unrelated test CA')" \
  -keyout other-ca.key -out other-ca.pem 2>/dev/null
rm -f other-ca.key

issue() {  # name CN extensions
  local name=$1 cn=$2 ext=$3
  openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "$(subj "$cn")" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf '%s\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
issue server localhost "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
issue client cdc-test-client "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 600 ./*.key
chmod 644 ./*.pem
if [ -n "${CERT_OWNER:-}" ] && [ "$(id -u)" -eq 0 ]; then chown -R "$CERT_OWNER": .; fi
