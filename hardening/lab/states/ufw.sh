# ufw: egress filtered with ufw: default deny outgoing, allow out to the lab subnet,
# allow in 22/tcp; netcat-openbsd present (stock), no other netcat-likes, no auditd,
# no dnsmasq, resolv.conf -> 198.18.0.1; rsyslog forwards everything to 198.18.0.1:10514/tcp,
# which a ufw rule denies (the logs never leave).
# Login: root with the lab key (no become).
lab_purge netcat-traditional ncat socat busybox audispd-plugins auditd dnsmasq dnsmasq-base
nft flush ruleset
ufw default deny incoming >/dev/null
ufw default deny outgoing >/dev/null
ufw allow out to "$SUBNET" >/dev/null
ufw allow in 22/tcp >/dev/null
ufw insert 1 deny out to 198.18.0.1 port 10514 proto tcp >/dev/null
ufw --force enable >/dev/null
lab_resolver 198.18.0.1
printf '*.* action(type="omfwd" target="198.18.0.1" port="10514" protocol="tcp")\n' > /etc/rsyslog.d/90-forward.conf
rsyslogd  # no init script in Debian 12 (systemd only): start the daemon itself
lab_key root
