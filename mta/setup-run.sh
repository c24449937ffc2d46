#!/bin/sh
# setup-run.sh DIR - create a working directory for `make run` (once):
# a self-signed ECDSA P-256 key and certificate for "localhost", a backup
# key (its public key is the backup pin), and a pinpost.conf serving
# 127.0.0.1:2525 with local domain "localhost" and mailbox "postmaster".
# An existing DIR/etc/pinpost.conf is left as it is.
set -eu
dir=$(mkdir -p "$1" && cd "$1" && pwd)
etc=$dir/etc
[ -f "$etc/pinpost.conf" ] && exit 0
mkdir -p "$etc" "$dir/spool" "$dir/mail"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$etc/key.pem" -out "$etc/cert.pem" -days 825 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$etc/backup-key.pem"
openssl pkey -in "$etc/backup-key.pem" -pubout -out "$etc/backup-pub.pem"
cat > "$etc/pinpost.conf" <<CONF
# pinpost.conf for \`make run\` (see pinpost.conf(5))
myhostname = localhost
user =
log = stderr
listen = 127.0.0.1:2525
spool_dir = $dir/spool
store = $dir/pins.tdb
tls_cert_file = $etc/cert.pem
tls_key_file = $etc/key.pem
# keep the backup key offline in real life: only its pin is needed here
pkp_backup_pins = $etc/backup-pub.pem
local_domains = localhost
maildir_root = $dir/mail
mailboxes = postmaster@localhost
CONF
echo "setup-run: created $dir (config $etc/pinpost.conf)"
