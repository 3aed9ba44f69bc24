"""Private servers the fault suite can stop and start again: PostgreSQL, nats-server, and a
three-node NATS cluster for the scale-out test."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(os.listdir("/usr/lib/postgresql"), reverse=True) if os.path.isdir("/usr/lib/postgresql") else []:
        candidate = os.path.join("/usr/lib/postgresql", root, "bin", name)
        if os.path.exists(candidate):
            return candidate
    raise SystemExit(f"faults: {name} not found: install PostgreSQL's server binaries (apt install postgresql)")


class Postgres:
    """A throw-away cluster (fsync off), run as the `postgres` user when we are root."""

    def __init__(self, data):
        self.data, self.port = data, free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv):
        subprocess.run(self.as_user + list(argv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        if self.as_user:
            shutil.chown(self.data, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._ctl("start")

    def _ctl(self, action, *extra):
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(_pg_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", os.path.join(self.data, "server.log"), "-w", *extra, action)

    def restart(self):
        self._ctl("restart", "-m", "fast")

    def stop(self):
        try:
            self._ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass


class Nats:
    """nats-server with a configuration (authentication), its JetStream store kept across restarts."""

    def __init__(self, conf, store):
        self.conf, self.store, self.port = conf, store, free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        os.makedirs(self.store, exist_ok=True)
        log = open(self.store + ".log", "a")
        self.proc = subprocess.Popen(["nats-server", "-c", self.conf, "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", self.store], stdout=log, stderr=subprocess.STDOUT)
        if not wait_port(self.port):
            raise SystemExit("faults: nats-server did not start; see " + self.store + ".log")

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class NatsCluster:
    """Three nats-server processes routed into one JetStream cluster on loopback, each with the
    authentication `planexec nats init` wrote (its own copy of that nats.conf, with a resolver
    folder of its own) and the shape of deploy/nats/nats-cluster.conf. A node killed here stays
    down."""

    def __init__(self, auth_conf, root, size=3):
        self.auth_conf, self.root = auth_conf, root
        self.names = [f"nats-{i}" for i in range(size)]
        self.ports = {n: free_port() for n in self.names}
        self.monitors = {n: free_port() for n in self.names}
        self.routes = {n: free_port() for n in self.names}
        self.procs = {}
        self.dead = set()

    @property
    def url(self):
        """Every node's client URL, comma-separated, as PLANEXE_NATS_URL takes them."""
        return ",".join(f"nats://127.0.0.1:{self.ports[n]}" for n in self.names)

    def _configure(self, name):
        folder = os.path.join(self.root, name)
        os.makedirs(os.path.join(folder, "jwt"), exist_ok=True)
        auth = open(self.auth_conf).read()
        shared_jwt = os.path.join(os.path.dirname(os.path.realpath(self.auth_conf)), "jwt")
        if f'dir: "{shared_jwt}"' not in auth:
            raise SystemExit(f"faults: {self.auth_conf} names no resolver folder {shared_jwt}")
        with open(os.path.join(folder, "auth.conf"), "w") as f:
            f.write(auth.replace(f'dir: "{shared_jwt}"', f'dir: "{os.path.join(folder, "jwt")}"'))
        routes = "\n".join(f"    nats-route://127.0.0.1:{self.routes[n]}" for n in self.names)
        conf = os.path.join(folder, "nats.conf")
        with open(conf, "w") as f:
            f.write(f"""server_name: {name}
listen: 127.0.0.1:{self.ports[name]}
http: 127.0.0.1:{self.monitors[name]}
max_payload: 1MB

include "auth.conf"

jetstream {{
  store_dir: "{os.path.join(folder, "js")}"
  max_memory_store: 256MB
  max_file_store: 2GB
}}

cluster {{
  name: planexec
  listen: 127.0.0.1:{self.routes[name]}
  routes: [
{routes}
  ]
  connect_retries: 30
}}
""")
        return conf

    def start(self, seconds=60):
        for name in self.names:
            conf = self._configure(name)
            log = open(os.path.join(self.root, name + ".log"), "a")
            self.procs[name] = subprocess.Popen(["nats-server", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        for name in self.names:
            if not wait_port(self.ports[name]):
                raise SystemExit(f"faults: {name} did not start; see {self.root}/{name}.log")
        deadline = time.time() + seconds
        while self.meta_leader() is None:
            if time.time() > deadline:
                raise SystemExit(f"faults: the NATS cluster elected no meta leader in {seconds} s; see {self.root}")
            time.sleep(0.3)

    def monitor(self, name, path):
        """A monitoring endpoint of the node (`jsz`, `connz?...`), or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitors[name]}/{path}", timeout=3) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def open_account(self, creds, seconds=30):
        """Connects with `creds` to every node and asks for the account's JetStream info, so that
        each node has loaded the account before a stream is created in it: nats-server 2.9.10
        sometimes fails the first R3 stream of a fresh cluster ("could not create storage
        directory" on a node that has not seen the account yet, error 10049 to the client)."""
        import asyncio
        import nats

        async def ask(url):
            nc = await nats.connect(url, user_credentials=creds, connect_timeout=5, max_reconnect_attempts=0)
            try:
                answer = json.loads((await nc.request("$JS.API.INFO", b"", timeout=5)).data)
            finally:
                await nc.close()
            if "error" in answer:
                raise RuntimeError(answer["error"])

        deadline = time.time() + seconds
        for name in self.alive():
            while True:
                try:
                    asyncio.run(ask(f"nats://127.0.0.1:{self.ports[name]}"))
                    break
                except Exception as e:  # not ready yet: no JetStream for the account there
                    if time.time() > deadline:
                        raise SystemExit(f"faults: {name} has no JetStream for the planexec account: {e}")
                    time.sleep(0.3)

    def jsz(self, name, query=""):
        return self.monitor(name, "jsz" + query)

    def clients(self, name):
        """How many client connections the node has."""
        return (self.monitor(name, "connz") or {}).get("num_connections", 0)

    def meta_leader(self):
        """The meta leader every live node names, once they all know the whole cluster."""
        leaders = set()
        for name in self.alive():
            meta = (self.jsz(name) or {}).get("meta_cluster") or {}
            if not meta.get("leader") or meta.get("cluster_size", 0) < len(self.names):
                return None
            leaders.add(meta["leader"])
        return leaders.pop() if len(leaders) == 1 else None

    def streams(self, name):
        """The stream details (consumers included) the node reports."""
        page = self.jsz(name, "?accounts=true&streams=true&consumers=true") or {}
        return [d for account in page.get("account_details") or [] for d in account.get("stream_detail") or []]

    def stream_leader(self, stream):
        """The node that leads `stream`, as the live nodes report it."""
        for name in self.alive():
            for detail in self.streams(name):
                if detail.get("name") == stream and (detail.get("cluster") or {}).get("leader"):
                    return detail["cluster"]["leader"]
        return None

    def consumer(self, stream, consumer):
        """A consumer's state as the node leading it reports it, or None."""
        for name in self.alive():
            for detail in self.streams(name):
                if detail.get("name") != stream:
                    continue
                for c in detail.get("consumer_detail") or []:
                    if c.get("name") == consumer and (c.get("cluster") or {}).get("leader") == name:
                        return c
        return None

    def alive(self):
        return [n for n in self.names if n not in self.dead]

    def kill(self, name):
        """SIGKILL, for good."""
        self.dead.add(name)
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
