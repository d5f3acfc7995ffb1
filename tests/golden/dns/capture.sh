#!/bin/bash
# Capture real collector output for the dns goldens (see README.md). Run as root on a
# Debian 12 machine with dnsmasq, unbound, bind9 and bind9-utils installed (daemons not
# started by apt). Each scenario runs in a throwaway namespace:
#   unshare -m -n -p -f --mount-proc  (own mounts, own empty network namespace, own pids)
# with an overlay over /etc (edits vanish with the namespace) and tmpfs over /run/systemd,
# /var/log and /tmp; daemons started inside die with the namespace. Nothing is contacted:
# the namespace has only a loopback interface.
# Usage: capture.sh SCENARIO...   (default: all). Writes SCENARIO.dash.txt/.busybox.txt here.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
FACTS=$(cd "$HERE/../../../hardening/facts" && pwd)
# systemd-resolved is not installed on the machine (installing it rewrites the machine's own
# /etc/resolv.conf): its Debian package is unpacked aside and run inside the namespace only.
RESOLVED_ROOT=${RESOLVED_ROOT:-/var/tmp/harden-capture/systemd-resolved}
if [ ! -x "$RESOLVED_ROOT/lib/systemd/systemd-resolved" ]; then
    mkdir -p "$RESOLVED_ROOT"
    (cd "$RESOLVED_ROOT" && apt-get download systemd-resolved && dpkg -x systemd-resolved_*.deb .)
fi
COLLECTOR=$(mktemp /run/harden-dns-collector.XXXXXX)
cat "$FACTS/header.sh" "$FACTS/dns.sh" "$FACTS/footer.sh" >"$COLLECTOR"
trap 'rm -f "$COLLECTOR"' EXIT

inner() {  # runs inside the namespace: $1 scenario, $2 scratch directory
    set -eu
    sc=$1
    ip link set lo up
    ov=$2   # an empty directory on the host, made and removed by the caller
    mount -t tmpfs tmpfs "$ov"
    mkdir -p "$ov/up" "$ov/work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ov/up,workdir=$ov/work" /etc
    mount -t tmpfs tmpfs /tmp
    mount -t tmpfs tmpfs /var/log
    mkdir -p /run/systemd
    mount -t tmpfs tmpfs /run/systemd
    mkdir -p /run/dnsmasq /run/named && chown dnsmasq /run/dnsmasq && chown bind /run/named
    mount -t tmpfs tmpfs /var/cache/bind && chown bind /var/cache/bind
    rm -f /etc/resolv.conf
    printf 'nameserver 127.0.0.1\noptions edns0 trust-ad\n' >/etc/resolv.conf
    dm="dnsmasq -x /run/dnsmasq/dnsmasq.pid -u dnsmasq -7 /etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new --local-service"
    case $sc in
    host_external)
        printf 'nameserver 10.255.255.53\nnameserver 2001:db8::53\noptions rotate use-vc\n' >/etc/resolv.conf ;;
    dnsmasq_logging)
        printf 'log-queries\nlog-facility=/var/log/dnsmasq-queries.log\nno-resolv\nserver=10.255.255.53\n' \
            >/etc/dnsmasq.d/logging.conf
        $dm ;;
    dnsmasq_cmdline_q)
        $dm -q --no-resolv ;;
    dnsmasq_include)
        # log-queries two includes deep: dnsmasq.conf -> conf-file -> conf-dir with a suffix filter
        printf 'conf-file=/etc/harden/dns.conf\n' >>/etc/dnsmasq.conf
        mkdir -p /etc/harden/dns.d
        printf 'conf-dir=/etc/harden/dns.d/,*.conf\nno-resolv\n' >/etc/harden/dns.conf
        printf 'log-queries=extra\n' >/etc/harden/dns.d/log.conf
        printf 'log-facility=/var/log/ignored.log\n' >/etc/harden/dns.d/ignored.conf.bak
        $dm ;;
    dnsmasq_not_running)
        printf 'log-queries\nlog-facility=/var/log/dnsmasq-queries.log\n' >/etc/dnsmasq.d/logging.conf ;;
    dnsmasq_no_logging)
        $dm --no-resolv ;;
    resolved_stub | resolved_to_dnsmasq)
        mkdir -p /etc/systemd/resolved.conf.d /run/systemd/resolve
        if [ "$sc" = resolved_to_dnsmasq ]; then
            printf '[Resolve]\nDNS=127.0.0.1\nDomains=~.\n' >/etc/systemd/resolved.conf.d/harden.conf
            printf 'log-queries\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\n' \
                >/etc/dnsmasq.d/logging.conf
            $dm
        else
            printf '[Resolve]\nDNS=10.255.255.53\nDNSOverTLS=opportunistic\n' \
                >/etc/systemd/resolved.conf.d/harden.conf
        fi
        rm -f /etc/resolv.conf
        ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
        echo "systemd-resolve:x:991:991:systemd Resolver:/:/usr/sbin/nologin" >>/etc/passwd
        echo "systemd-resolve:x:991:" >>/etc/group
        chown 991:991 /run/systemd/resolve
        LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/systemd "$RESOLVED_ROOT/lib/systemd/systemd-resolved" \
            >/var/log/resolved.out 2>&1 &
        PATH="$RESOLVED_ROOT/usr/bin:$PATH"; export PATH ;;
    unbound_logging | unbound_nolog)
        lq=no; [ "$sc" = unbound_logging ] && lq=yes
        cat >/etc/unbound/unbound.conf.d/harden.conf <<UB
server:
    interface: 127.0.0.1
    interface: ::1
    log-queries: $lq
    log-replies: $lq
    use-syslog: no
    logfile: "/var/log/unbound-queries.log"
    chroot: ""
UB
        rm -f /etc/unbound/unbound.conf.d/root-auto-trust-anchor-file.conf
        touch /var/log/unbound-queries.log && chown unbound /var/log/unbound-queries.log
        unbound -c /etc/unbound/unbound.conf ;;
    bind_querylog | bind_category | bind_default)
        if [ "$sc" = bind_querylog ]; then
            sed -i 's/dnssec-validation auto;/dnssec-validation auto;\n\tquerylog yes;\n\tlisten-on { 127.0.0.1; };/' \
                /etc/bind/named.conf.options
        elif [ "$sc" = bind_category ]; then
            printf 'logging {\n\tchannel queries_file { file "/var/log/named/queries.log" versions 3 size 20m; print-time yes; };\n\tcategory queries { queries_file; };\n};\n' \
                >>/etc/bind/named.conf.local
            mkdir -p /var/log/named && chown bind /var/log/named
        fi
        named -u bind -c /etc/bind/named.conf ;;
    *) echo "unknown scenario $sc" >&2; return 2 ;;
    esac
    for _ in $(seq 50); do
        grep -q ':0035 ' /proc/net/udp /proc/net/udp6 2>/dev/null && break
        case $sc in *not_running | host_external) break ;; esac
        sleep 0.1
    done
    sleep 0.3
    (cd / && HN=x dash "$COLLECTOR") >"$HERE/$sc.dash.txt" 2>"$HERE/$sc.dash.stderr" || true
    (cd / && HN=x busybox sh "$COLLECTOR") >"$HERE/$sc.busybox.txt" 2>/dev/null || true
    [ -s "$HERE/$sc.dash.stderr" ] || rm -f "$HERE/$sc.dash.stderr"
}

scenarios=${*:-"host_external dnsmasq_logging dnsmasq_cmdline_q dnsmasq_include dnsmasq_not_running
    dnsmasq_no_logging resolved_stub resolved_to_dnsmasq unbound_logging unbound_nolog bind_querylog
    bind_category bind_default"}
export HERE COLLECTOR RESOLVED_ROOT
for sc in $scenarios; do
    echo "== $sc"
    ov=$(mktemp -d /run/harden-ov.XXXXXX)
    timeout 60 unshare -m -n -p -f --mount-proc --propagation private \
        bash -c "$(declare -f inner); inner $sc $ov" || true
    rmdir "$ov"
done
