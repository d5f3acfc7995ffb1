#!/bin/sh
# Fault users for tests/hostile/test_faults.py, inside a lab container (copied in with `podman cp`).
#
#   sh /usr/local/sbin/harden-fault install PASSWORD   # as root: users + sshd Match blocks, reload sshd
#   harden-fault MODE                                  # what sshd's ForceCommand runs for a fault user
#
# Each fault user logs in with the lab key (fpw and fsudo with PASSWORD); sshd forces
# `harden-fault MODE` instead of the command harden asks for, with harden's collector
# script on stdin. Every mode ends by itself (bounded sleeps), so nothing outlives a test.
set -u

MODE=${1:-}
SELF=/usr/local/sbin/harden-fault

session_sshd() {  # the sshd process of this session (an ancestor of ours)
    _p=$PPID
    while [ "$_p" -gt 1 ]; do
        [ "$(cat "/proc/$_p/comm")" = sshd ] && { echo "$_p"; return; }
        _p=$(cut -d' ' -f4 "/proc/$_p/stat")
    done
}

case "$MODE" in
hang)  # accepts the login and the script, then never answers
    exec sleep 120 ;;
slow)  # a healthy host that takes a while (resume tests)
    sleep "$(cat /etc/harden-fault-slow 2>/dev/null || echo 5)"
    exec sh -s ;;
cut)  # runs the real collector, sends half of its output, then kills the connection
    out=$(mktemp)
    sh -s > "$out" 2>/dev/null
    n=$(wc -c < "$out")
    head -c $((n / 2)) "$out"
    rm -f "$out"
    sleep 0.3
    kill -9 "$(session_sshd)"
    exit 0 ;;
garbage)  # random binary, ANSI escapes, markup, fake markers; exits 0
    head -c 65536 /dev/urandom
    printf '\033[2J\033[31m<script>alert(1)</script> {{ lookup("pipe","id") }} $(id) `id`\n'
    printf '@@HARDEN@@ fake section\n\377\376\000 invalid utf-8\n'
    exit 0 ;;
trunc)  # the real collector's output cut short at 3000 bytes, exit status 0
    sh -s 2>/dev/null | head -c 3000
    exit 0 ;;
flood)  # more output than any host should send
    head -c "$(cat /etc/harden-fault-flood 2>/dev/null || echo 8388608)" /dev/zero | tr '\000' A
    exit 0 ;;
phish)  # plays sudo: prints harden's own prompt, reads the password, echoes it back everywhere
    prompt=$(printf '%s\n' "${SSH_ORIGINAL_COMMAND:-}" | sed -n "s/.* -p '\([^']*\)'.*/\1/p")
    printf '%s' "$prompt" >&2
    read -r pw
    printf 'sudo: incorrect password attempt: %s\n' "$pw" >&2
    printf '%s\n' "$pw"
    exit 1 ;;
install)
    set -eu
    PASSWORD=$2
    for u in fhang fslow fcut fgarbage ftrunc fflood fphish fquick1 fquick2 fpw fsudo; do
        id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
        usermod -p '*' "$u"
        install -d -m 0700 -o "$u" -g "$u" "/home/$u/.ssh"
        install -m 0600 -o "$u" -g "$u" /home/harden/.ssh/authorized_keys "/home/$u/.ssh/authorized_keys"
    done
    printf 'fpw:%s\nfsudo:%s\n' "$PASSWORD" "$PASSWORD" | chpasswd
    printf 'fsudo ALL=(ALL:ALL) ALL\n' > /etc/sudoers.d/harden-fault
    chmod 0440 /etc/sudoers.d/harden-fault
    # Match blocks go at the end of the main file: one in an Include'd file would swallow
    # the main file's later lines.
    grep -q '^# harden-fault' /etc/ssh/sshd_config || {
        echo '# harden-fault'
        for m in hang slow cut garbage trunc flood phish; do
            printf 'Match User f%s\n    ForceCommand %s %s\n' "$m" "$SELF" "$m"
        done
        printf 'Match User fpw,fsudo\n    PasswordAuthentication yes\n'
    } >> /etc/ssh/sshd_config
    /usr/sbin/sshd -t
    kill -HUP 1  # sshd is PID 1 in a lab host: it re-executes with the new configuration
    ;;
*)
    echo "usage: harden-fault install PASSWORD | hang|slow|cut|garbage|trunc|flood|phish" >&2
    exit 2 ;;
esac
