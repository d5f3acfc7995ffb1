# harden allowlist collector piece: the configuration files that name destinations the host
# needs (resolvers, package repositories, NTP, proxies, log forwarding, directory servers).
# Read-only. Parsed by hardening/allowlist/evidence.py; globs that match nothing are skipped.
_h_file allow.resolv /etc/resolv.conf
_h_file allow.resolved_upstream /run/systemd/resolve/resolv.conf
_h_files allow.resolved /etc/systemd/resolved.conf /etc/systemd/resolved.conf.d/*.conf
_h_files allow.dnsmasq /etc/dnsmasq.conf /etc/dnsmasq.d/*
_h_files allow.apt /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
_h_files allow.yum /etc/yum.repos.d/*.repo
_h_files allow.ntp /etc/chrony/chrony.conf /etc/chrony.conf /etc/chrony/sources.d/*.sources \
    /etc/chrony/conf.d/*.conf /etc/ntp.conf /etc/ntpsec/ntp.conf /etc/systemd/timesyncd.conf \
    /etc/systemd/timesyncd.conf.d/*.conf
_h_files allow.proxy /etc/environment /etc/apt/apt.conf /etc/apt/apt.conf.d/* /etc/yum.conf \
    /etc/dnf/dnf.conf /etc/profile.d/*proxy*
_h_files allow.rsyslog /etc/rsyslog.conf /etc/rsyslog.d/*.conf
_h_files allow.syslog_ng /etc/syslog-ng/syslog-ng.conf /etc/syslog-ng/conf.d/*.conf
_h_files allow.audisp /etc/audit/audisp-remote.conf /etc/audisp/audisp-remote.conf \
    /etc/audit/plugins.d/au-remote.conf
_h_files allow.journal_upload /etc/systemd/journal-upload.conf /etc/systemd/journal-upload.conf.d/*.conf
_h_files allow.directory /etc/sssd/sssd.conf /etc/sssd/conf.d/*.conf /etc/krb5.conf /etc/krb5.conf.d/* \
    /etc/ldap/ldap.conf /etc/openldap/ldap.conf /etc/nslcd.conf
