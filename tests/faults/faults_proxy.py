"""A loopback HTTP forwarder that loses some answers: the request reaches the gateway, the
connection is cut before the answer reaches the agent (so the agent must re-send)."""
import random
import socket
import threading

from faults_servers import free_port


class DroppingProxy:
    def __init__(self, target, drop_rate):
        self.target, self.drop_rate, self.port = target, drop_rate, free_port()
        self.dropped = 0
        self.random = random.Random(11)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(128)
        self.running = True

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.running = False
        self.server.close()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
        self._pipe(upstream, client, True)

    def _pipe(self, source, sink, answers):
        """Copies until either side closes; on the answer side, the first bytes of an answer
        are sometimes thrown away and both sides closed."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if answers and data.startswith(b"HTTP/1.1 ") and self.random.random() < self.drop_rate:
                    self.dropped += 1
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass
