#!/usr/bin/env bash
# Development certificates for envoy/envoy.yaml and docker-compose.yml. NOT for production:
# the CA key sits next to the certificates and the private keys are world-readable so that the
# non-root users inside the Envoy (uid 101) and Portcullis (uid 10001) containers can read them.
#
#   envoy/make-dev-certs.sh [OUT_DIR]       # default: envoy/certs (gitignored)
#
# Writes (EC P-256 keys in PKCS#8 PEM, which both Envoy/BoringSSL and Netty read):
#   ca.pem, ca.key                      dev CA that signs everything below
#   envoy-server.pem, .key              Envoy's downstream certificate: api.example.com,
#                                       staging.example.com, internal.example.com, localhost, 127.0.0.1
#   portcullis-server.pem, .key         Portcullis's gRPC (9191) certificate: DNS portcullis, localhost
#   envoy-client.pem, .key              Envoy's client certificate towards Portcullis (mTLS),
#                                       URI SAN spiffe://prod.example.com/ns/edge/sa/envoy
#   billing.pem, .key                   a workload client certificate for the mTLS listener,
#                                       URI SAN spiffe://prod.example.com/ns/default/sa/billing
#
# Re-running replaces every file (a fresh CA each time). Needs openssl 1.1.1 or newer.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/certs}"
days=365
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# issue NAME SUBJECT EXTENDED_KEY_USAGE SUBJECT_ALT_NAMES
issue() {
  local name="$1" subject="$2" eku="$3" san="$4"
  key "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "$subject" -out "$work/$name.csr"
  cat >"$work/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $eku
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
  openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -days "$days" -sha256 \
    -extfile "$work/$name.ext" -out "$out/$name.pem" 2>/dev/null
}

key "$out/ca.key"
cat >"$work/ca.ext" <<EXT
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT
openssl req -x509 -new -key "$out/ca.key" -subj "/O=Portcullis dev/CN=Portcullis dev CA" \
  -days "$days" -sha256 -config "$work/ca.ext" -extensions v3_ca -out "$out/ca.pem"

issue envoy-server "/O=Portcullis dev/CN=api.example.com" serverAuth \
  "DNS:api.example.com, DNS:staging.example.com, DNS:internal.example.com, DNS:envoy, DNS:localhost, IP:127.0.0.1"
issue portcullis-server "/O=Portcullis dev/CN=portcullis" serverAuth \
  "DNS:portcullis, DNS:localhost, IP:127.0.0.1"
issue envoy-client "/O=Portcullis dev/CN=envoy" clientAuth \
  "URI:spiffe://prod.example.com/ns/edge/sa/envoy"
issue billing "/O=Portcullis dev/CN=billing" clientAuth \
  "URI:spiffe://prod.example.com/ns/default/sa/billing"

# Readable by the containers' non-root users (see the header). Development only.
chmod 0644 "$out"/*.pem "$out"/*.key
chmod 0600 "$out/ca.key"
echo "dev certificates written to $out"
