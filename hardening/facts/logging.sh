# harden collector: logging piece (log forwarding). Parsed by hardening/facts/logging.py.
# The configuration of the forwarders that send this host's logs elsewhere: rsyslog (with its
# include directory), syslog-ng, systemd-journal-upload, auditd's dispatcher plugins and
# audisp-remote. Which forwarders RUN comes from the processes piece. Read-only.
# Host CPU: every program started costs ~1 ms, so files are read by one cat per section (the
# header's _h_files_body) and nothing runs for files that do not exist.
HLK=4194304
# _hl_files NAME GLOB...: _h_files capped at $HLK bytes.
_hl_files() {
    _hln=$1
    shift
    _h_run "$_hln" _h_files_capped "$HLK" "$@"
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
        sed -n -e 's/"$//' -e 's/.*[="(@/[:space:]]//' -e '/^[A-Za-z][A-Za-z0-9.-]*$/p'
}
# No names (cat would read nothing, or nothing matched): nothing to sort or resolve.
_hl_resolve() {
    _hlns=
    for _hlf in /etc/rsyslog.conf /etc/rsyslog.d/* /etc/syslog-ng/syslog-ng.conf /etc/syslog-ng/conf.d/* \
        /etc/systemd/journal-upload.conf /etc/systemd/journal-upload.conf.d/*.conf \
        /etc/audit/audisp-remote.conf /etc/audisp/audisp-remote.conf; do
        if [ -e "$_hlf" ]; then
            _hlns=$(_hl_names)
            [ -z "$_hlns" ] || _hlns=$(printf '%s\n' "$_hlns" | sort -u)
            break
        fi
    done
    [ -n "$_hlns" ] || return 0
    _hli=0
    # The names are letters, digits, "." and "-" (sed above): no field splitting or glob surprises.
    for _hln in $_hlns; do
        [ "$_hli" -lt 16 ] || break
        _hli=$((_hli + 1))
        if _h_has timeout; then _hla=$(timeout 3 getent ahosts "$_hln" 2>/dev/null); else _hla=$(getent ahosts "$_hln" 2>/dev/null); fi
        printf '%s\n' "$_hla" | while read -r _hlip _hlrest; do
            [ -n "$_hlip" ] && printf '%s %s\n' "$_hln" "$_hlip"
        done
    done | sort -u
}
_h_run logging.resolve _hl_resolve
