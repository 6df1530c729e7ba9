"""HTTP/1.1 front end of the emulator and its command line."""

import argparse
import gzip
import os
import select
import signal
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .auth import Keys
from .errors import MeiliError
from .faults import Faults
from .routes import App, Request, PAYLOAD_LIMIT_DEFAULT
from .store import State
from .util import dumps

# the "garbage" fault's body: announced as JSON, not JSON
GARBAGE = b'{"meilisim": garbage, \x00\xff [unterminated'


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, app, faults, verbose=False):
        self.app = app
        self.faults = faults
        self.compress = True
        self.verbose = verbose
        self.stopping = False
        self.listening = True
        super().__init__(addr, handler)

    def close_listener(self):
        if self.listening:
            try:
                self.socket.close()
            except OSError:
                pass
            self.listening = False

    def reopen_listener(self):
        if self.listening:
            return
        s = socket.socket(self.address_family, self.socket_type)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(self.server_address)
        s.listen(self.request_queue_size)
        self.socket = s
        self.listening = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "meilisim/1.50.0"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("meilisim: %s\n" % (fmt % args))

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _dispatch(self):
        srv = self.server
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        path, _, raw_query = self.path.partition("?")
        is_control = path.startswith("/_meilisim/")
        if srv.faults.refusing() and not is_control:
            # connections opened before the refusal are dropped too, except
            # for control requests (a test can clear the fault through a
            # connection it kept open)
            self.close_connection = True
            return
        action = None
        if not is_control:
            lat, action = srv.faults.decide(self.command, path)
            if lat:
                time.sleep(lat)
            if action == "hang":
                while srv.faults.hang and not srv.stopping:
                    time.sleep(0.05)
                if srv.stopping:
                    self.close_connection = True
                    return
                action = None
            if action == "error":
                status = srv.faults.error_status
                err = MeiliError("internal", "meilisim: injected fault", status=status)
                extra = {"Retry-After": "10"} if status == 503 else {}
                self._send(status, dumps(err.to_json()).encode(), extra)
                return
        enc = (self.headers.get("Content-Encoding") or "").strip().lower()
        try:
            if enc in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif enc == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -15)
            elif enc not in ("", "identity"):
                raise MeiliError("bad_request", "Unsupported Content-Encoding `%s`." % enc)
        except (OSError, zlib.error, EOFError):
            err = MeiliError("bad_request", "The payload could not be decoded with Content-Encoding `%s`."
                             % enc)
            self._send(400, dumps(err.to_json()).encode())
            return
        except MeiliError as e:
            self._send(e.status, dumps(e.to_json()).encode())
            return
        req = Request(self.command, path, raw_query, self.headers, body)
        try:
            resp = srv.app.handle(req)
        except MeiliError as e:
            self._send(e.status, dumps(e.to_json()).encode())
            return
        except Exception as e:  # never leave the client without an answer
            if srv.verbose:
                import traceback
                traceback.print_exc()
            err = MeiliError("internal", "meilisim internal error: %r" % (e,))
            self._send(500, dumps(err.to_json()).encode())
            return
        data = b"" if resp.body == "" else dumps(resp.body).encode("utf-8")
        extra = dict(resp.headers)
        if action == "garbage":
            # the request was processed; the answer is not JSON
            data = GARBAGE
        elif data and srv.compress:
            enc = negotiate(self.headers.get("Accept-Encoding"))
            if enc == "gzip":
                data = gzip.compress(data, compresslevel=1)
            elif enc == "deflate":
                data = zlib.compress(data, 1)
            if enc:
                extra["Content-Encoding"] = enc
                extra["Vary"] = "accept-encoding"
        self._send(resp.status, data, extra, drop=(action == "drop"))

    def _send(self, status, data, extra=None, drop=False):
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if drop:
            self.send_header("Connection", "close")
        if not drop and self.command != "HEAD":
            # headers and body in one write: no Nagle/delayed-ACK stall
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(data)
            self.flush_headers()
            return
        self.end_headers()
        if drop:
            self.wfile.write(data[:max(1, len(data) // 2)] if data else b"")
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def do_HEAD(self):
        self._dispatch()


def negotiate(accept):
    """gzip or deflate if the client accepts one of them (brotli/zstd: not available)."""
    if not accept:
        return None
    best = None
    for part in accept.split(","):
        bits = part.strip().split(";")
        name = bits[0].strip().lower()
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if name in ("gzip", "deflate", "*") and q > 0:
            name = "gzip" if name == "*" else name
            if best is None or q > best[1] or (q == best[1] and name == "gzip"):
                best = (name, q)
    return best[0] if best else None


def parse_args(argv):
    p = argparse.ArgumentParser(prog="meilisim", description="Meilisearch 1.50 emulator")
    p.add_argument("--listen", default="127.0.0.1:7700", help="HOST:PORT (port 0 = any free port)")
    p.add_argument("--master-key", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--port-file", default=None, help="write the bound port to this file when ready")
    p.add_argument("--http-payload-size-limit", type=int, default=PAYLOAD_LIMIT_DEFAULT)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--no-compression", action="store_true",
                   help="never compress responses (default: gzip/deflate per Accept-Encoding)")
    p.add_argument("--latency-ms", default=None, help="A or A-B: added delay per request")
    p.add_argument("--error-rate", type=float, default=None)
    p.add_argument("--error-status", type=int, default=500)
    p.add_argument("--fail-routes", default=None, help="regex on the path (or 'METHOD path')")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--drop-mid-response", action="store_true")
    p.add_argument("--garbage", action="store_true",
                   help="answer every request with a body that is not JSON")
    p.add_argument("--refuse", action="store_true")
    p.add_argument("--pause-tasks", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    host, _, port = args.listen.rpartition(":")
    host = host or "127.0.0.1"
    faults = Faults()
    faults.configure({"latencyMs": args.latency_ms, "errorRate": args.error_rate,
                      "errorStatus": args.error_status, "failRoutes": args.fail_routes,
                      "hang": args.hang, "dropMidResponse": args.drop_mid_response,
                      "garbage": args.garbage,
                      "refuse": args.refuse, "pauseTasks": args.pause_tasks})
    state = State(master_key=args.master_key, data_dir=args.data_dir, name=args.name)
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        state.load()
    Keys(state).ensure_defaults()
    state.pause_worker = faults.pause_tasks
    app = App(state, faults, args.http_payload_size_limit)
    server = Server((host, int(port)), Handler, app, faults, args.verbose)
    server.compress = not args.no_compression
    bound = server.server_address[1]
    state.start_worker()

    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()

    def on_usr1(signum, frame):
        faults.configure({}, reset=True)
        with state.lock:
            state.pause_worker = False
            state.cond.notify_all()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.replace(tmp, args.port_file)
    sys.stderr.write("meilisim%s listening on %s:%d\n"
                     % (" " + args.name if args.name else "", host, bound))
    sys.stderr.flush()

    try:
        while not stop.is_set():
            if faults.refusing():
                server.close_listener()
                time.sleep(0.05)
                continue
            if not server.listening:
                try:
                    server.reopen_listener()
                except OSError:
                    time.sleep(0.1)
                    continue
            try:
                r, _, _ = select.select([server.socket], [], [], 0.2)
            except (OSError, ValueError):
                continue
            if r:
                server._handle_request_noblock()
    finally:
        server.stopping = True
        with state.lock:
            state.stopping = True
            state.cond.notify_all()
        if state.worker is not None:
            state.worker.join(timeout=5)
        if args.data_dir:
            try:
                state.save()
            except OSError as e:
                sys.stderr.write("meilisim: could not save state: %s\n" % e)
        server.close_listener()
    return 0
