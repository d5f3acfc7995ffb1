# harden collector: audit piece (auditd). Parsed by hardening/facts/audit.py.
# Read-only: queries the kernel's audit status and rule list, never loads anything.

# audit.bins: "name path" per audit tool, "-" when absent (command -v prints straight: no $(...)).
_h_audit_bins() {
    for _hb in auditctl auditd augenrules; do
        printf '%s ' "$_hb"
        command -v "$_hb" 2>/dev/null || echo -
    done
}
_h_run audit.bins _h_audit_bins
# With the sensors piece beside this one (_ha_pkg, set by collector.py), its one dpkg-query
# lists auditd as well: audit.pkg_from says so and audit.py reads auditd's line there (each
# dpkg-query parses dpkg's whole status file, ~1 ms per 100 packages installed).
if _h_has dpkg-query && [ "${_ha_pkg:-}" = sensors ]; then
    _h_run audit.pkg_from echo sensors
elif _h_has dpkg-query; then
    _h_run audit.pkg dpkg-query -W -f '${Package} ${Version} ${Status}\n' auditd
else
    _h_cmd audit.pkg rpm -q audit
fi

# audit.boot: what starts auditd at boot, whether or not an init system runs here.
# The link targets come from one readlink for all links (GNU readlink takes many, one line
# each); when that fails (busybox takes one, a target with a newline), one readlink each.
_h_audit_boot() {
    if [ -d /run/systemd/system ]; then echo 'systemd running'; fi
    set -- /etc/systemd/system/multi-user.target.wants/auditd.service \
        /etc/systemd/system/auditd.service /etc/rc[2345].d/S*auditd /etc/runlevels/*/auditd
    _han=$#
    for _hf in "$@"; do
        if [ -L "$_hf" ]; then set -- "$@" "$_hf"; fi
    done
    _hal=
    _haok=
    if [ $(($# - _han)) -gt 1 ] && _hal=$(
        shift "$_han"
        readlink -- "$@" 2>/dev/null
    ); then
        _hat=$_hal$_h_nl
        _hai=0
        while [ -n "$_hat" ]; do
            _hat=${_hat#*"$_h_nl"}
            _hai=$((_hai + 1))
        done
        [ "$_hai" -eq $(($# - _han)) ] && _haok=1
        _hal=$_hal$_h_nl
    fi
    _hai=0
    for _hf in "$@"; do
        _hai=$((_hai + 1))
        [ "$_hai" -le "$_han" ] || break
        if [ -L "$_hf" ]; then
            if [ -n "$_haok" ] && [ -n "$_hal" ]; then
                printf 'link %s -> %s\n' "$_hf" "${_hal%%"$_h_nl"*}"
                _hal=${_hal#*"$_h_nl"}
            else
                printf 'link %s -> %s\n' "$_hf" "$(readlink "$_hf")"
            fi
        elif [ -e "$_hf" ]; then
            printf 'file %s\n' "$_hf"
        fi
    done
    :
}
_h_run audit.boot _h_audit_boot
if [ -d /run/systemd/system ]; then
    _h_cmd audit.is_enabled systemctl is-enabled auditd.service
    _h_cmd audit.is_active systemctl is-active auditd.service
fi

# audit.procs: "pid comm" of every process named auditd (builtin read: no fork per process).
_h_audit_procs() {
    for _hd in /proc/[0-9]*; do
        _hc=
        read -r _hc 2>/dev/null <"$_hd/comm" || continue
        if [ "$_hc" = auditd ]; then printf '%s %s\n' "${_hd#/proc/}" "$_hc"; fi
    done
    :
}
_h_run audit.procs _h_audit_procs

# audit.env: effective capabilities and container markers (audit needs CAP_AUDIT_CONTROL).
_h_audit_env() {
    while read -r _hk _hv; do
        case $_hk in CapEff:) printf 'CapEff %s\n' "$_hv" ;; esac
    done </proc/$$/status
    for _hf in /run/.containerenv /.dockerenv; do
        if [ -e "$_hf" ]; then printf 'marker %s\n' "$_hf"; fi
    done
    :
}
_h_run audit.env _h_audit_env

_h_cmd audit.status auditctl -s
_h_cmd audit.rules_loaded auditctl -l

# /etc/audit is mode 0750: without root, "missing" and "unreadable" look alike to [ -e ].
# _h_audit_path TEST PATH CMD...: run CMD when PATH passes TEST; rc 2 with a message when
# /etc/audit cannot be searched; rc 127 when PATH does not exist.
_h_audit_path() {
    if [ "$1" "$2" ]; then
        shift 2
        "$@"
    elif [ -d /etc/audit ] && ! [ -x /etc/audit ]; then
        echo "/etc/audit: Permission denied" >&2
        return 2
    else
        return 127
    fi
}
# audit.rules_d_dir: the rules.d listing, in augenrules' order (ls -1v; plain ls where -v is missing).
_h_audit_ls() { ls -1v "$1" 2>/dev/null || ls -1 "$1"; }
_h_run audit.rules_d_dir _h_audit_path -d /etc/audit/rules.d _h_audit_ls /etc/audit/rules.d
_h_files audit.rules_d /etc/audit/rules.d/*.rules
_h_run audit.audit_rules _h_audit_path -e /etc/audit/audit.rules cat /etc/audit/audit.rules
_h_cmd audit.augenrules_check augenrules --check
