# harden collector: privilege piece. Parsed by hardening/facts/privilege.py.
# What a compromised service would hand an attacker: sudo rights of the accounts that run
# processes, who may write the programs that run and the web roots they serve, and the
# groups of each process. The process table and sockets come from the processes piece.
# Read-only (`sudo -l -U` only lists; `nginx -T` only prints the configuration it would load).
HRK=4194304
# privilege.sudoers: /etc/sudoers and its include directory (root only).
_h_files privilege.sudoers /etc/sudoers /etc/sudoers.d/*
_h_run privilege.group head -c "$HRK" /etc/group
# privilege.groups: "/proc/PID/status:Groups: ..." supplementary groups of every process.
_hr_groups() { grep -s -H '^Groups:' /proc/[0-9]*/status | head -c "$HRK"; }
_h_run privilege.groups _hr_groups
# The accounts that run processes (not root): their names, one per line, at most 32.
_hr_accounts() {
    grep -s -h '^Uid:' /proc/[0-9]*/status | while read -r _hrk _hru _hrrest; do
        [ "$_hru" = 0 ] || echo "$_hru"
    done | sort -un | head -32 | while read -r _hru; do
        getent passwd "$_hru" | cut -d: -f1
    done | grep -E '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'
}
# privilege.sudo_list: "== NAME" then `sudo -n -l -U NAME` for each of those accounts.
_hr_sudo_list() {
    _hr_accounts | while IFS= read -r _hrn; do
        printf '== %s\n' "$_hrn"
        if _h_has timeout; then timeout 5 sudo -n -l -U "$_hrn" 2>&1; else sudo -n -l -U "$_hrn" 2>&1; fi
        printf '== rc %s\n' "$?"
    done | head -c "$HRK"
}
if [ "$(id -u)" = 0 ] && _h_has sudo; then
    _h_run privilege.sudo_list _hr_sudo_list
fi
# privilege.webroots: the roots web servers serve (nginx -T's root/alias, Apache DocumentRoot).
_hr_webroots() {
    if _h_has nginx; then
        if _h_has timeout; then timeout 5 nginx -T 2>/dev/null; else nginx -T 2>/dev/null; fi |
            sed -n 's/^[[:space:]]*\(root\|alias\)[[:space:]]\{1,\}\([^;]*\);.*/\2/p'
    fi
    cat /etc/apache2/sites-enabled/* /etc/apache2/apache2.conf /etc/httpd/conf/httpd.conf /etc/httpd/conf.d/*.conf \
        2>/dev/null | sed -n 's/^[[:space:]]*DocumentRoot[[:space:]]\{1,\}"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/p'
    [ -d /var/www/html ] && echo /var/www/html
    :
}
# privilege.stat: "uid gid rawmode(hex) path" of every running executable, each parent directory up
# to /, and each web root (one stat for all; paths with a newline are left out).
_hr_paths() {
    {
        if find /proc/self/ -maxdepth 0 -printf '' >/dev/null 2>&1; then
            find /proc/[0-9]*/exe -maxdepth 0 -printf '%l\n' 2>/dev/null
        else
            for _hrl in /proc/[0-9]*/exe; do readlink "$_hrl" 2>/dev/null; done
        fi | sed 's/ (deleted)$//'
        _hr_webroots | tr -d '"' | sed "s/'//g"
    } | grep '^/' | sort -u | head -2000 | while IFS= read -r _hrp; do
        _hrd=$_hrp
        while [ -n "$_hrd" ] && [ "$_hrd" != / ]; do
            echo "$_hrd"
            _hrd=${_hrd%/*}
        done
    done | sort -u | head -8000
}
_hr_stat() {
    _hr_paths | tr '\n' '\0' | xargs -0 stat -c '%u %g %f %n' 2>/dev/null | head -c "$HRK"
    :
}
_h_run privilege.webroots _hr_webroots
_h_run privilege.stat _hr_stat
