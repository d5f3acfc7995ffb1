# harden collector: appcontrol piece (SELinux, AppArmor). Parsed by hardening/facts/appcontrol.py.
# Reads the running state from the kernel (selinuxfs, securityfs, module parameters), then config.

# _ha_text NAME PATH: _h_file for a small kernel text file (never a NUL byte in it), read by the
# shell instead of a cat process (~1 ms of CPU each). When the shell reads nothing (an empty or
# unreadable file, a read error such as EINVAL) cat runs after all: its output, message and exit
# code are the section's, exactly as before.
_ha_text_body() {
    _hac=
    _hal=
    { while IFS= read -r _hal; do
        _hac=$_hac$_hal$_h_nl
        _hal=
    done; } 2>/dev/null <"$1"
    _hac=$_hac$_hal
    if [ -n "$_hac" ]; then printf '%s' "$_hac"; else cat -- "$1"; fi
}
_ha_text() {
    if [ -e "$2" ]; then
        _h_run "$1" _ha_text_body "$2"
    else
        printf '\n@@%s B %s\n\n@@%s E %s 127\n' "$HN" "$1" "$HN" "$1"
    fi
}
_ha_text appcontrol.cmdline /proc/cmdline
_ha_text appcontrol.lsm /sys/kernel/security/lsm

# appcontrol.mounts: securityfs/selinuxfs mounts (absent securityfs hides lsm and AppArmor profiles).
_h_ac_mounts() {
    while read -r _hd _hm _ht _hr; do
        case $_ht in securityfs | selinuxfs) printf '%s %s %s\n' "$_hd" "$_hm" "$_ht" ;; esac
    done </proc/self/mounts
    :
}
_h_run appcontrol.mounts _h_ac_mounts
_h_file appcontrol.attr_current /proc/self/attr/current

_ha_text appcontrol.selinux_enforce /sys/fs/selinux/enforce
_h_file appcontrol.selinux_config /etc/selinux/config
_h_cmd appcontrol.getenforce getenforce

_ha_text appcontrol.apparmor_enabled /sys/module/apparmor/parameters/enabled
_h_file appcontrol.apparmor_profiles /sys/kernel/security/apparmor/profiles
if [ -d /sys/module/apparmor ]; then
    _h_cmd appcontrol.aa_status aa-status --json
fi
