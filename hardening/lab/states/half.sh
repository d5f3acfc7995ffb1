# half: half-hardened, with the traps an auditor must see through.
# - nftables: only `table ip` (IPv6 unfiltered); output policy drop but an unconditional
#   `ct state new accept` before the address rule (admits every new connection), while
#   /etc/nftables.conf holds a different, clean ruleset (running != persisted).
# - dnsmasq on 127.0.0.1 WITHOUT log-queries; resolv.conf -> 127.0.0.1.
# - netcat-openbsd removed, but ncat installed and a socat binary copied to
#   /usr/local/bin/socat (no package owns it).
# - rsyslog forwards only auth,authpriv to 198.18.0.1 (the line forwarding everything is commented out).
# - exposed services with too much privilege: nginx whose web root www-data owns; an app on :8000
#   running as appsvc, a system account with a login shell and sudo NOPASSWD; a root python
#   http.server on :8001 with no privilege drop.
# Login: harden with a PASSWORD (password auth on), sudo asks for it.
cp /usr/bin/socat /usr/local/bin/socat
lab_purge netcat-openbsd netcat-traditional socat busybox

nft -f - <<NFT
flush ruleset
table ip filter {
	chain output {
		type filter hook output priority filter; policy drop;
		ct state established,related accept
		ct state new accept
		ip daddr $SUBNET accept
	}
}
NFT
cat > /etc/nftables.conf <<NFT
#!/usr/sbin/nft -f
flush ruleset

table inet filter {
	chain output {
		type filter hook output priority filter; policy drop;
		ct state established,related accept
		oif "lo" accept
		tcp sport 22 accept
		ip daddr $SUBNET accept
	}
}
NFT

mkdir -p /etc/dnsmasq.d
cat > /etc/dnsmasq.d/harden.conf <<DNS
listen-address=127.0.0.1
bind-interfaces
no-resolv
server=198.18.0.1
DNS
/etc/init.d/dnsmasq start >/dev/null
lab_resolver 127.0.0.1

cat > /etc/rsyslog.d/50-remote.conf <<RS
#*.* @@198.18.0.1:514
auth,authpriv.* @@198.18.0.1:514
RS
rsyslogd  # no init script in Debian 12 (systemd only): start the daemon itself

chown -R www-data:www-data /var/www/html
nginx
useradd -r -m -d /home/appsvc -s /bin/bash appsvc
printf 'appsvc ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/appsvc
chmod 0440 /etc/sudoers.d/appsvc
(cd /home/appsvc && setpriv --reuid=appsvc --regid=appsvc --init-groups python3 -m http.server 8000 >/dev/null 2>&1 &)
(cd /tmp && python3 -m http.server 8001 >/dev/null 2>&1 &)

lab_user harden
lab_password harden
lab_sudo harden passwd
lab_sshd yes
