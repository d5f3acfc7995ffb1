# harden collector: sensors piece. Parsed by hardening/facts/sensors.py.
# Behavioural sensors (EDR, runtime security): their packages, service units and, for the
# open ones, the configuration that says which events they load rules for. Which of them
# RUN comes from the processes piece (identified by executable). Read-only.
# Host CPU: every program started costs ~1 ms, so the config files are read by one cat per
# section, with exactly the output of the per-file loop.
HSK=4194304
# _hs_files NAME GLOB...: like _h_files, capped at $HSK bytes (the parser flags a cut); no
# program at all when none of the files exists.
_hs_files() {
    _hsn=$1
    shift
    _h_run "$_hsn" _h_files_capped "$HSK" "$@"
}
_hs_pkgs="auditd falco osquery sysmonforlinux auditbeat elastic-agent wazuh-agent mdatp falcon-sensor sentinelagent"
if _h_has dpkg-query; then
    # One line per package dpkg knows; unknown ones only on stderr (exit 1). Version and Status
    # too: the audit piece reads auditd's line as its audit.pkg (see audit.sh).
    # shellcheck disable=SC2086
    _h_run sensors.packages dpkg-query -W -f '${Package} ${db:Status-Status} ${Version} ${Status}\n' $_hs_pkgs
else
    # shellcheck disable=SC2086
    _h_cmd sensors.packages rpm -q --qf '%{NAME} installed\n' audit falco osquery sysmonforlinux auditbeat \
        elastic-agent wazuh-agent mdatp falcon-sensor SentinelAgent
fi
if [ -d /run/systemd/system ]; then
    _h_cmd sensors.units systemctl show --no-pager -p Id,LoadState,ActiveState,SubState,UnitFileState,MainPID \
        auditd.service falco.service falco-modern-bpf.service falco-bpf.service falco-kmod.service \
        falco-custom.service tetragon.service osqueryd.service sysmon.service auditbeat.service \
        elastic-agent.service ElasticEndpoint.service wazuh-agent.service mdatp.service \
        falcon-sensor.service sentinelone.service
fi
_hs_files sensors.falco /etc/falco/falco.yaml /etc/falco/config.d/*.yaml /etc/falco/falco_rules.yaml \
    /etc/falco/falco_rules.local.yaml /etc/falco/rules.d/*.yaml /etc/falco/rules.d/*.yml
_hs_files sensors.osquery /etc/osquery/osquery.conf /etc/osquery/osquery.flags /etc/default/osqueryd \
    /etc/osquery/conf.d/*.conf /etc/osquery/packs/*.conf
_hs_files sensors.tetragon /etc/tetragon/tetragon.conf.d/* /etc/tetragon/tetragon.tp.d/*.yaml \
    /etc/tetragon/tetragon.tp.d/*.yml
_hs_files sensors.sysmon /opt/sysmon/config.xml
_hs_files sensors.auditbeat /etc/auditbeat/auditbeat.yml
