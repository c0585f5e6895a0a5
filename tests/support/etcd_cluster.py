"""A 3-member etcd cluster on loopback ports in a temporary directory, for tests
(python3 stdlib only; needs Debian's etcd-server, installed by tools/setup.sh).

    cluster = EtcdCluster(tmp_dir)       # picks free ports, starts nothing
    cluster.start()                      # starts the members, waits for a leader
    cluster.endpoints                    # "http://127.0.0.1:P1,http://127.0.0.1:P2,..."
    cluster.stop_member(1) / start_member(1)   # SIGKILL one / start it again (same data)
    cluster.compact()                    # compacts at the current revision
    cluster.stop()                       # SIGKILL every member, removes in-memory data

Members are started and stopped by process handle, never by name. By default
their data lives in memory (/dev/shm, where the machine has it): the tests are
about heck, and on a busy disk etcd's fdatasync alone took 2 s, past the
agent's 2 s call timeout. A benchmark passes in_memory=False to keep etcd's
real disk cost in its figures.
"""

import base64
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

from heck_proc import HeckProc, free_port, wait_until


def etcd_binary():
    """The etcd binary, or None when it is not installed."""
    return shutil.which("etcd") or (os.path.exists("/usr/bin/etcd") and "/usr/bin/etcd") or None


def stable_port(taken):
    """A 127.0.0.1 port free a moment ago, below the kernel's ephemeral range.

    A member stopped and started again keeps its ports, and while it is down a
    port in the ephemeral range can be taken as the local end of any outgoing
    connection on the machine (seen under parallel tests: the restart failed
    with 'bind: address already in use'). Ports below the range are only ever
    taken by an explicit bind."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    first = max(10000, low - 12000)
    for _ in range(200 if low - first >= 1000 else 0):
        port = random.randrange(first, low)
        if port in taken:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        taken.add(port)
        return port
    return free_port()


def _post(url, body, timeout=2.0):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
                                 method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


class EtcdCluster:
    def __init__(self, tmp, size=3, token="heck-test", in_memory=True):
        self.memory_dir = None
        if in_memory and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            self.memory_dir = tempfile.mkdtemp(prefix="heck-etcd-", dir="/dev/shm")
        self.tmp = self.memory_dir or tmp
        self.size = size
        self.names = [f"e{i + 1}" for i in range(size)]
        taken = set()
        self.client_ports = [stable_port(taken) for _ in range(size)]
        self.peer_ports = [stable_port(taken) for _ in range(size)]
        self.token = f"{token}-{os.getpid()}"
        self.procs = [None] * size
        self.started_once = [False] * size

    @property
    def endpoints(self):
        return ",".join(f"http://127.0.0.1:{p}" for p in self.client_ports)

    def url(self, i):
        return f"http://127.0.0.1:{self.client_ports[i]}"

    def _initial_cluster(self):
        return ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports))

    def start_member(self, i):
        name = self.names[i]
        args = [etcd_binary(), "--name", name, "--data-dir", os.path.join(self.tmp, name),
                "--listen-client-urls", self.url(i), "--advertise-client-urls", self.url(i),
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-cluster", self._initial_cluster(), "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new", "--heartbeat-interval", "50", "--election-timeout", "500",
                "--logger", "zap", "--log-level", "warn"]
        self.procs[i] = HeckProc(name, args, max_lines=2000)
        self.started_once[i] = True

    def start(self, timeout_s=30):
        for i in range(self.size):
            self.start_member(i)
        self.wait_writable(timeout_s)

    def wait_writable(self, timeout_s=30):
        """Waits until a put through some member succeeds (a leader exists)."""
        def writable():
            for i in range(self.size):
                if self.procs[i] is None or self.procs[i].proc.poll() is not None:
                    continue
                try:
                    _post(self.url(i) + "/v3/kv/put",
                          {"key": base64.b64encode(b"heck-test/ping").decode(), "value": ""}, timeout=1.0)
                    return True
                except OSError:
                    pass
            return False
        wait_until("etcd to accept writes", writable, timeout_s, interval_s=0.2)

    def stop_member(self, i):
        p = self.procs[i]
        if p is not None:
            p.kill()
            self.procs[i] = None

    def compact(self):
        """Compacts the key history at the current revision (through a live member)."""
        for i in range(self.size):
            if self.procs[i] is None:
                continue
            try:
                rev = int(_post(self.url(i) + "/v3/kv/range",
                                {"key": base64.b64encode(b"heck/").decode()})["header"]["revision"])
                _post(self.url(i) + "/v3/kv/compaction", {"revision": str(rev)})
                return rev
            except OSError:
                continue
        raise AssertionError("no etcd member answered the compaction")

    def stop(self):
        for i in range(self.size):
            self.stop_member(i)
        if self.memory_dir:
            shutil.rmtree(self.memory_dir, ignore_errors=True)
            self.memory_dir = None

    def logs(self):
        return "\n".join(f"--- etcd {n} ---\n{p.tail(30)}" for n, p in zip(self.names, self.procs) if p is not None)
