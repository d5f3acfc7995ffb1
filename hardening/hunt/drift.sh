# harden hunt collector piece (Linux), with --baseline only, before containers.sh: the facts a drift baseline compares
# beyond processes and sockets (hardening/hunt/drift.py; docs/hunt.md, "Drift"). Read once per hunt:
# in a watch, the first sample only (HS, see hardening/hunt/watch.py). Read-only, bounded: at most
# $HDU passwd lines, $HDF files of each kind, $HDL lines per file, every section capped at $HK bytes.
#   hunt.drift.keys     "U<TAB>user" then "L<TAB>path" (a symlink: not read) or "F<TAB>path" and its
#                       lines as "K<TAB>line", for ~/.ssh/authorized_keys{,2} of every passwd user
#   hunt.drift.cron     "F<TAB>path" (or "L<TAB>path") and "C<TAB>line" for each non-comment line of
#                       /etc/crontab, /etc/cron.d/*, the user spools /var/spool/cron/crontabs/* and
#                       /var/spool/cron/* (files only)
#   hunt.drift.modules  /proc/modules
HDU=4096
HDF=512
HDL=512
HDB=1048576
# "P<TAB>line" (P: $2) for the first $HDL lines of $1 that are not empty or a comment (a last line
# without a newline too), from its first $HDB bytes (a huge one-line file never fills awk's memory);
# "more<TAB>path" when the file has more (padding with comments cannot push a line out unseen).
_hd_lines() {
    head -c "$HDB" "$1" 2>/dev/null | grep -v -E '^[[:space:]]*(#|$)' |
        awk -v p="$2" -v m="$HDL" -v f="$1" 'NR <= m { print p "\t" $0 } NR == m + 1 { print "more\t" f }'
    [ "$(wc -c <"$1" 2>/dev/null || echo 0)" -le "$HDB" ] || printf 'more\t%s\n' "$1"
}
_hd_file() {
    case $2 in *"$_h_nl"* | *"	"*) return 0 ;; esac
    if [ -L "$2" ]; then
        printf 'L\t%s\n' "$2"
    elif [ -f "$2" ]; then
        printf 'F\t%s\n' "$2"
        _hd_lines "$2" "$1"
    fi
}
_hunt_drift_keys() {
    [ "$(wc -l </etc/passwd 2>/dev/null || echo 0)" -le "$HDU" ] || printf 'cap\t%s\n' "$HDU"
    head -n "$HDU" /etc/passwd 2>/dev/null | while IFS=: read -r _hdu _hdx _hdi _hdg _hdc _hdh _hds; do
        case $_hdh in /*) ;; *) continue ;; esac
        [ -e "$_hdh/.ssh/authorized_keys" ] || [ -e "$_hdh/.ssh/authorized_keys2" ] ||
            [ -L "$_hdh/.ssh/authorized_keys" ] || [ -L "$_hdh/.ssh/authorized_keys2" ] || continue
        printf 'U\t%s\n' "$_hdu"
        _hd_file K "$_hdh/.ssh/authorized_keys"
        _hd_file K "$_hdh/.ssh/authorized_keys2"
    done | head -c "$HK"
}
_hunt_drift_cron() {
    _hdn=0
    for _hdf in /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*; do
        [ -f "$_hdf" ] || [ -L "$_hdf" ] || continue
        [ -d "$_hdf" ] && continue
        _hdn=$((_hdn + 1))
        if [ "$_hdn" -gt "$HDF" ]; then
            printf 'cap\t%s\n' "$HDF"
            break
        fi
        case $_hdf in *"$_h_nl"* | *"	"*) continue ;; esac
        if [ -L "$_hdf" ]; then
            printf 'L\t%s\n' "$_hdf"
            continue
        fi
        printf 'F\t%s\n' "$_hdf"
        _hd_lines "$_hdf" C
    done | head -c "$HK"
}
if [ "${HS:-0}" = 0 ]; then
    _h_run hunt.drift.keys _hunt_drift_keys
    _h_run hunt.drift.cron _hunt_drift_cron
    if [ -e /proc/modules ]; then _h_run hunt.drift.modules head -c 1048576 /proc/modules; else _h_file hunt.drift.modules /proc/modules; fi
fi
