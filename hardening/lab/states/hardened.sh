# hardened: everything the checks want that a container can have.
# - nftables inet output chain: policy drop, established/related, loopback, the SSH
#   management replies, the lab subnet; IPv6 falls to the drop policy. Same ruleset in
#   /etc/nftables.conf (running == persisted).
# - dnsmasq on 127.0.0.1 with log-queries to /var/log/dnsmasq.log; resolv.conf -> 127.0.0.1.
# - no netcat-likes at all.
# - rsyslog forwards every facility, and the dnsmasq query log (imfile), to 198.18.0.1:6514/tcp
#   (inside the egress allowlist).
# - auditd installed, reverse-shell rules persisted, enabled at boot (kernel audit is not
#   available in a container: the daemon cannot run, the checks say so).
# - nginx on :80, its master root, its workers www-data (no login shell, no sudo), the web root
#   root's (the package's default site).
# Login: harden with the lab key, sudo without password.
lab_purge netcat-openbsd netcat-traditional ncat socat busybox

cat > /etc/nftables.conf <<NFT
#!/usr/sbin/nft -f
flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy drop;
		ct state established,related accept
		oif "lo" accept
		tcp sport 22 accept
		ip daddr $SUBNET accept
	}
}
NFT
nft -f /etc/nftables.conf
# enabled at boot, as `systemctl enable nftables` leaves it
mkdir -p /etc/systemd/system/sysinit.target.wants
ln -sf /lib/systemd/system/nftables.service /etc/systemd/system/sysinit.target.wants/nftables.service

mkdir -p /etc/dnsmasq.d
cat > /etc/dnsmasq.d/harden.conf <<DNS
listen-address=127.0.0.1
bind-interfaces
no-resolv
server=198.18.0.1
log-queries
log-facility=/var/log/dnsmasq.log
DNS
/etc/init.d/dnsmasq start >/dev/null
lab_resolver 127.0.0.1

cat > /etc/rsyslog.d/90-forward.conf <<RS
module(load="imfile")
input(type="imfile" File="/var/log/dnsmasq.log" Tag="dnsmasq-queries:" Facility="local5")
*.* action(type="omfwd" target="198.18.0.1" port="6514" protocol="tcp")
RS
rsyslogd  # no init script in Debian 12 (systemd only): start the daemon itself

mkdir -p /etc/audit/rules.d
cat > /etc/audit/rules.d/harden.rules <<AUD
## harden: reverse-shell coverage
-a always,exit -F arch=b64 -S execve -k harden_exec
-a always,exit -F arch=b32 -S execve -k harden_exec
-a always,exit -F arch=b64 -S connect -F a2=16 -k harden_connect
-a always,exit -F arch=b64 -S connect -F a2=28 -k harden_connect
-a always,exit -F arch=b32 -S connect -F a2=16 -k harden_connect
-a always,exit -F arch=b32 -S connect -F a2=28 -k harden_connect
-w /etc/crontab -p wa -k harden_persist
-w /etc/cron.d/ -p wa -k harden_persist
-w /etc/cron.hourly/ -p wa -k harden_persist
-w /etc/cron.daily/ -p wa -k harden_persist
-w /etc/cron.weekly/ -p wa -k harden_persist
-w /etc/cron.monthly/ -p wa -k harden_persist
-w /var/spool/cron/ -p wa -k harden_persist
-w /etc/profile -p wa -k harden_persist
-w /etc/profile.d/ -p wa -k harden_persist
-w /etc/bash.bashrc -p wa -k harden_persist
-w /root/.ssh/ -p wa -k harden_persist
-w /etc/systemd/system/ -p wa -k harden_persist
-w /lib/systemd/system/ -p wa -k harden_persist
-w /home/harden/.ssh/authorized_keys -p wa -k harden_persist
AUD
augenrules >/dev/null 2>&1 || true  # regenerate /etc/audit/audit.rules (loading needs the kernel)
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /lib/systemd/system/auditd.service /etc/systemd/system/multi-user.target.wants/auditd.service

nginx  # no init system here: the daemon itself

lab_user harden
lab_key harden
lab_sudo harden nopasswd
