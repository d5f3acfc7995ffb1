# harden collector: appcontrol piece (SELinux, AppArmor). Parsed by hardening/facts/appcontrol.py.
# Reads the running state from the kernel (selinuxfs, securityfs, module parameters), then config.

_h_text appcontrol.cmdline /proc/cmdline
_h_text appcontrol.lsm /sys/kernel/security/lsm

# appcontrol.mounts: securityfs/selinuxfs mounts (absent securityfs hides lsm and AppArmor profiles).
_h_ac_mounts() {
    while read -r _hd _hm _ht _hr; do
        case $_ht in securityfs | selinuxfs) printf '%s %s %s\n' "$_hd" "$_hm" "$_ht" ;; esac
    done </proc/self/mounts
    :
}
_h_run appcontrol.mounts _h_ac_mounts
_h_file appcontrol.attr_current /proc/self/attr/current

_h_text appcontrol.selinux_enforce /sys/fs/selinux/enforce
_h_file appcontrol.selinux_config /etc/selinux/config
_h_cmd appcontrol.getenforce getenforce

_h_text appcontrol.apparmor_enabled /sys/module/apparmor/parameters/enabled
_h_file appcontrol.apparmor_profiles /sys/kernel/security/apparmor/profiles
if [ -d /sys/module/apparmor ]; then
    _h_cmd appcontrol.aa_status aa-status --json
fi
