"""Private servers the fault suite can stop and start again: PostgreSQL and nats-server."""
import os
import shutil
import socket
import subprocess
import time


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
