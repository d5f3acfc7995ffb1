# half: half-hardened, with the traps an auditor must see through.
# - nftables: only `table ip` (IPv6 unfiltered); output policy drop but an unconditional
#   `ct state new accept` before the address rule (admits every new connection), while
#   /etc/nftables.conf holds a different, clean ruleset (running != persisted).
# - dnsmasq on 127.0.0.1 WITHOUT log-queries; resolv.conf -> 127.0.0.1.
# - netcat-openbsd removed, but ncat installed and a socat binary copied to
#   /usr/local/bin/socat (no package owns it).
# - rsyslog forwards only auth,authpriv to 198.18.0.1 (the line forwarding everything is commented out).
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

lab_user harden
lab_password harden
lab_sudo harden passwd
lab_sshd yes
