# default: a stock Debian 12 server (no log forwarder: rsyslog purged, as a minimal install has none). netcat-openbsd (Debian's standard nc) present, no
# other netcat-likes, no auditd, no local resolver, no firewall rules loaded, resolv.conf
# pointing at 198.18.0.1 (a resolver that keeps no query log, from the host's view).
# Login: harden with the lab key, sudo without password.
lab_purge netcat-traditional ncat socat busybox audispd-plugins auditd dnsmasq dnsmasq-base rsyslog
nft flush ruleset
lab_resolver 198.18.0.1
lab_user harden
lab_key harden
lab_sudo harden nopasswd
