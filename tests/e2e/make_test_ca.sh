#!/usr/bin/env bash
# Makes a throwaway CA and a leaf certificate for the fake Anthropic API (127.0.0.1 and
# localhost) in DIR: ca.pem, ca.key, server.pem, server.key. Keeps existing files that still
# verify, so repeated runs are cheap. Only the openssl CLI is used.
set -euo pipefail
dir=${1:?usage: make_test_ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
if [ -f ca.pem ] && [ -f server.pem ] && [ -f server.key ] &&
  openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1 &&
  openssl x509 -checkend 3600 -noout -in server.pem >/dev/null 2>&1; then
  exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ccjail e2e test CA" \
  -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr \
  2>/dev/null
printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
  'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
chmod 0600 ca.key server.key
chmod 0644 ca.pem server.pem
