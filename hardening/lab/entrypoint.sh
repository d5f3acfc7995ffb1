#!/bin/sh
# PID 1 of a lab host (bind-mounted read-only at /opt/harden-lab).
# Usage: sh /opt/harden-lab/entrypoint.sh STATE
#   env: HARDEN_LAB_PUBKEY (authorized key line), HARDEN_LAB_PASSWORD (states that log in
#        with a password), HARDEN_LAB_DEADEND (lab address nothing owns), HARDEN_LAB_SUBNET.
# Contains the network first, makes fresh host keys, applies states/STATE.sh, then
# becomes sshd. Any failure exits, so the container stops and `podman logs` says why.
set -eu
STATE=$1
LAB=/opt/harden-lab
DEADEND=${HARDEN_LAB_DEADEND:-198.18.0.254}
SUBNET=${HARDEN_LAB_SUBNET:-198.18.0.0/24}
export DEBIAN_FRONTEND=noninteractive

lab_log() { echo "harden-lab[$STATE]: $*" >&2; }

# --- network containment: anything not for the lab subnet goes to an address nobody owns
ip route replace default via "$DEADEND" dev eth0
ip -6 route del default 2>/dev/null || true
case "$(ip route get 203.0.113.5)" in
    *"via $DEADEND "*) ;;
    *) lab_log "containment failed: $(ip route get 203.0.113.5)"; exit 1 ;;
esac

# --- helpers for states/*.sh
lab_purge() {  # purge the named packages that are installed (dpkg works offline)
    _p=""
    for _x in "$@"; do
        if [ "$(dpkg-query -W -f '${db:Status-Status}' "$_x" 2>/dev/null || true)" = installed ]; then
            _p="$_p $_x"
        fi
    done
    [ -z "$_p" ] || dpkg --purge $_p >/dev/null
}
lab_user() {  # lab_user NAME: a login user with a home and bash
    id "$1" >/dev/null 2>&1 || useradd -m -s /bin/bash "$1"
    usermod -p '*' "$1"  # no password, not "locked" (key logins work without PAM too)
}
lab_key() {  # lab_key USER: the lab's public key as USER's only authorized key
    _home=$(getent passwd "$1" | cut -d: -f6)
    install -d -m 0700 -o "$1" -g "$(id -gn "$1")" "$_home/.ssh"
    printf '%s\n' "$HARDEN_LAB_PUBKEY" > "$_home/.ssh/authorized_keys"
    chown "$1:$(id -gn "$1")" "$_home/.ssh/authorized_keys"
    chmod 0600 "$_home/.ssh/authorized_keys"
}
lab_password() {  # lab_password USER: set USER's password from HARDEN_LAB_PASSWORD
    printf '%s:%s\n' "$1" "$HARDEN_LAB_PASSWORD" | chpasswd
}
lab_sudo() {  # lab_sudo USER nopasswd|passwd
    if [ "$2" = nopasswd ]; then
        printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$1" > "/etc/sudoers.d/harden-lab"
    else
        printf '%s ALL=(ALL:ALL) ALL\n' "$1" > "/etc/sudoers.d/harden-lab"
    fi
    chmod 0440 /etc/sudoers.d/harden-lab
}
lab_resolver() {  # lab_resolver ADDR: the only nameserver in /etc/resolv.conf
    # podman bind-mounts resolv.conf: rewrite it in place, never replace the file.
    printf 'nameserver %s\n' "$1" > /etc/resolv.conf
}
lab_sshd() {  # lab_sshd PasswordAuthentication(yes|no)
    # DEBUG1 logs each channel a client opens (tests count them: one per audit).
    printf 'PasswordAuthentication %s\nUseDNS no\nLogLevel DEBUG1\n' "$1" > /etc/ssh/sshd_config.d/harden-lab.conf
}

# --- fresh identity
rm -f /etc/ssh/ssh_host_*
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
lab_sshd no

. "$LAB/states/$STATE.sh"

: > /run/harden-lab-ready
lab_log "ready"
exec /usr/sbin/sshd -D -e
