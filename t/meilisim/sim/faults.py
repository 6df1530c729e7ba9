"""Fault injection knobs (command-line flags and POST /_meilisim/faults)."""

import random
import re
import threading
import time


def _norm(k):
    return re.sub(r"[^a-z]", "", k.lower())


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.latency = None          # (min_ms, max_ms)
        self.error_rate = None       # 0..1
        self.error_status = 500
        self.fail_routes = None      # compiled regex
        self.hang = False
        self.drop_mid_response = False
        self.garbage = False
        self.refuse = False
        self.refuse_until = None     # time.time() deadline, None = until cleared
        self.pause_tasks = False

    # ---- configuration ----
    @staticmethod
    def parse_latency(v):
        if v is None or v is False:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (float(v), float(v))
        if isinstance(v, list) and len(v) == 2:
            return (float(v[0]), float(v[1]))
        s = str(v)
        if "-" in s:
            a, b = s.split("-", 1)
            return (float(a), float(b))
        return (float(s), float(s))

    def configure(self, knobs, reset=False):
        with self.lock:
            if reset:
                self.reset()
            for k, v in knobs.items():
                n = _norm(k)
                if n in ("latencyms", "latency"):
                    self.latency = self.parse_latency(v)
                elif n == "errorrate":
                    self.error_rate = None if v is None else float(v)
                elif n == "errorstatus":
                    self.error_status = 500 if v is None else int(v)
                elif n == "failroutes":
                    self.fail_routes = re.compile(v) if v else None
                elif n == "hang":
                    self.hang = bool(v)
                elif n == "dropmidresponse":
                    self.drop_mid_response = bool(v)
                elif n == "garbage":
                    self.garbage = bool(v)
                elif n == "refuse":
                    self.refuse = bool(v)
                    self.refuse_until = None
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1:
                        self.refuse_until = time.time() + v / 1000.0
                elif n in ("refusems",):
                    if v:
                        self.refuse = True
                        self.refuse_until = time.time() + float(v) / 1000.0
                elif n == "pausetasks":
                    self.pause_tasks = bool(v)
                else:
                    raise ValueError("unknown fault knob %r" % k)

    def describe(self):
        with self.lock:
            return {"latencyMs": list(self.latency) if self.latency else None,
                    "errorRate": self.error_rate, "errorStatus": self.error_status,
                    "failRoutes": self.fail_routes.pattern if self.fail_routes else None,
                    "hang": self.hang, "dropMidResponse": self.drop_mid_response,
                    "garbage": self.garbage, "refuse": self.refusing(),
                    "pauseTasks": self.pause_tasks}

    # ---- queries used by the HTTP layer ----
    def refusing(self):
        if self.refuse and self.refuse_until is not None and time.time() >= self.refuse_until:
            self.refuse = False
            self.refuse_until = None
        return self.refuse

    def targeted(self, method, path):
        fr = self.fail_routes
        if fr is None:
            return True
        return bool(fr.search(path) or fr.search(method + " " + path))

    def decide(self, method, path):
        """Return (latency_seconds, action) with action in
        None/'hang'/'drop'/'garbage'/'error'."""
        with self.lock:
            if not self.targeted(method, path):
                return 0.0, None
            lat = 0.0
            if self.latency:
                lat = random.uniform(*self.latency) / 1000.0
            if self.hang:
                return lat, "hang"
            if self.drop_mid_response:
                return lat, "drop"
            if self.garbage:
                return lat, "garbage"
            rate = self.error_rate
            if rate is None:
                rate = 1.0 if self.fail_routes is not None else 0.0
            if rate > 0 and random.random() < rate:
                return lat, "error"
            return lat, None
