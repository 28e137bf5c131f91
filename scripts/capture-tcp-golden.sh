#!/usr/bin/env bash
# Captures the same TCP exchange twice from this machine's own Linux stack,
# between two network namespaces, for the comparator's golden vectors: the two
# runs differ in initial sequence numbers, timestamps and IP IDs exactly as two
# replicas' guests would, and must still compare equal. The client is the same
# (fixed address and port) in both runs, as it is for two replicas. Each run gets
# fresh namespaces, so no TIME_WAIT state carries over.
# Usage: scripts/capture-tcp-golden.sh OUT_DIR   (writes tcp_run1.pcap, tcp_run2.pcap)
set -euo pipefail
out="${1:?usage: $0 OUT_DIR}"
mkdir -p "$out"
ns_c="tsgold-c-$$" ns_s="tsgold-s-$$"
cleanup() {
  ip netns del "$ns_c" 2>/dev/null || true
  ip netns del "$ns_s" 2>/dev/null || true
}
trap cleanup EXIT
setup() {
  ip netns add "$ns_c"
  ip netns add "$ns_s"
  ip link add tsg-c type veth peer name tsg-s
  ip link set tsg-c netns "$ns_c"
  ip link set tsg-s netns "$ns_s"
  # Fixed MACs, so both runs' Ethernet headers are the same.
  ip -n "$ns_c" link set tsg-c address 02:00:00:00:00:01
  ip -n "$ns_s" link set tsg-s address 02:00:00:00:00:02
  ip -n "$ns_c" addr add 10.199.0.1/24 dev tsg-c
  ip -n "$ns_s" addr add 10.199.0.2/24 dev tsg-s
  for ns in "$ns_c" "$ns_s"; do ip -n "$ns" link set lo up; done
  ip -n "$ns_c" link set tsg-c up
  ip -n "$ns_s" link set tsg-s up
  # Static neighbours: no ARP in the capture.
  ip -n "$ns_c" neigh add 10.199.0.2 lladdr 02:00:00:00:00:02 dev tsg-c
  ip -n "$ns_s" neigh add 10.199.0.1 lladdr 02:00:00:00:00:01 dev tsg-s
  # Segmentation offloads off: the capture shows wire-sized segments.
  for ns in "$ns_c:tsg-c" "$ns_s:tsg-s"; do
    ip netns exec "${ns%%:*}" ethtool -K "${ns##*:}" tso off gso off gro off >/dev/null 2>&1 || true
  done
}

server='
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.199.0.2", 8080)); s.listen(1)
c, _ = s.accept()
req = c.recv(100)
time.sleep(0.3)
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3000\r\n\r\n")
time.sleep(0.3)
c.sendall(bytes((i * 7) % 251 for i in range(1400)))
time.sleep(0.3)
c.sendall(bytes((i * 11) % 251 for i in range(1600)))
time.sleep(0.3)
more = c.recv(100)
time.sleep(0.3)
c.sendall(b"bye " + more)
time.sleep(0.3)
c.shutdown(socket.SHUT_WR)
c.recv(10)
time.sleep(0.3)
c.close()
'
client='
import socket, time
c = socket.create_connection(("10.199.0.2", 8080), source_address=("10.199.0.1", 45678))
time.sleep(0.3)
c.sendall(b"GET /data HTTP/1.0\r\n\r\n")
got = b""
while len(got) < 3000 + 40:
    got += c.recv(8192)
time.sleep(0.3)
c.sendall(b"thanks\n")
time.sleep(0.3)
while c.recv(100):
    pass
time.sleep(0.3)
c.close()
'
for run in 1 2; do
  cleanup
  setup
  ip netns exec "$ns_s" tcpdump -i tsg-s -U -s 0 -w "$out/tcp_run$run.pcap" 'tcp port 8080 and src host 10.199.0.2' 2>/dev/null &
  dump=$!
  sleep 1
  ip netns exec "$ns_s" python3 -c "$server" &
  srv=$!
  sleep 0.5
  ip netns exec "$ns_c" python3 -c "$client"
  wait "$srv"
  sleep 1
  kill "$dump"
  wait "$dump" 2>/dev/null || true
  echo "capture: run $run: $(stat -c %s "$out/tcp_run$run.pcap") bytes"
done
