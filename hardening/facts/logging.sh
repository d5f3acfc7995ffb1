# harden collector: logging piece (log forwarding). Parsed by hardening/facts/logging.py.
# The configuration of the forwarders that send this host's logs elsewhere: rsyslog (with its
# include directory), syslog-ng, systemd-journal-upload, auditd's dispatcher plugins and
# audisp-remote. Which forwarders RUN comes from the processes piece. Read-only.
HLK=4194304
_hl_files_body() {
    _h_files_body "$@" >"$HT/lf$_hpiece"
    _hlrc=$?
    head -c "$HLK" "$HT/lf$_hpiece"
    return "$_hlrc"
}
_hl_files() {
    _hln=$1
    shift
    _h_run "$_hln" _hl_files_body "$@"
}
_hl_files logging.rsyslog /etc/rsyslog.conf /etc/rsyslog.d/*
_hl_files logging.syslog_ng /etc/syslog-ng/syslog-ng.conf /etc/syslog-ng/conf.d/*
_hl_files logging.journal_upload /etc/systemd/journal-upload.conf /etc/systemd/journal-upload.conf.d/*.conf
_hl_files logging.audisp /etc/audit/plugins.d/*.conf /etc/audisp/plugins.d/*.conf /etc/audit/audisp-remote.conf \
    /etc/audisp/audisp-remote.conf
# logging.resolve: "name address" for the host names those files forward to, resolved by the
# host's own resolver (the controller's may differ). At most 16 names, 3 s each.
_hl_names() {
    cat /etc/rsyslog.conf /etc/rsyslog.d/* /etc/syslog-ng/syslog-ng.conf /etc/syslog-ng/conf.d/* \
        /etc/systemd/journal-upload.conf /etc/systemd/journal-upload.conf.d/*.conf \
        /etc/audit/audisp-remote.conf /etc/audisp/audisp-remote.conf 2>/dev/null | head -c "$HLK" |
        grep -v '^[[:space:]]*#' |
        grep -oE 'target[[:space:]]*=[[:space:]]*"[A-Za-z0-9.-]+"|@@?[A-Za-z][A-Za-z0-9.-]*|remote_server[[:space:]]*=[[:space:]]*[A-Za-z][A-Za-z0-9.-]*|URL=[a-z]+://[A-Za-z][A-Za-z0-9.-]*|(network|tcp|udp|tcp6|udp6|syslog)[[:space:]]*\([[:space:]]*"[A-Za-z][A-Za-z0-9.-]*"' |
        sed -e 's/"$//' -e 's/.*[="(@/[:space:]]//' | grep -E '^[A-Za-z][A-Za-z0-9.-]*$' | sort -u | head -16
}
_hl_resolve() {
    _hl_names | while IFS= read -r _hln; do
        if _h_has timeout; then _hla=$(timeout 3 getent ahosts "$_hln" 2>/dev/null); else _hla=$(getent ahosts "$_hln" 2>/dev/null); fi
        printf '%s\n' "$_hla" | while read -r _hlip _hlrest; do
            [ -n "$_hlip" ] && printf '%s %s\n' "$_hln" "$_hlip"
        done
    done | sort -u
}
_h_run logging.resolve _hl_resolve
