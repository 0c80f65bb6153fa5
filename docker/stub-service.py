#!/usr/bin/env python3
"""Stand-in for a model service (stt, flan-t5, bark, ...), used by Dockerfile.example and the e2e suite.

It does what a real service does at start-up that can go wrong with permissions, and reports it:
- prints one JSON line `service.ready` on stdout with its identity (pid, uid, gid, groups, HOME),
  the cache-related environment, and the result of writing into each cache directory;
- writes a file into HF_HOME, and, like suno-ai/bark, creates $XDG_CACHE_HOME/suno/bark_v0 and writes
  there when the bark preset is on (torch: $TORCH_HOME);
- on SIGTERM/SIGINT prints `service.stopping` and exits with STUB_TERM_EXIT (default 0): a service
  that is PID 1 gets no default signal action, so without this handler `docker stop` would wait;
- then stays up (STUB_ONCE=1: exits 0 right after the report instead).

Only modules of python3-minimal are used (no json there), so it runs on a debootstrap minbase image.
"""
import os
import signal
import sys

NAME = sys.argv[sys.argv.index("--name") + 1] if "--name" in sys.argv else os.environ.get("SERVICE_NAME", "stub")

# Environment worth seeing: what the entrypoint sets, migrates or must remove.
ENV_KEYS = (
    "HOME", "USER", "LOGNAME", "HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "TORCH_HOME",
    "TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE", "PYTORCH_PRETRAINED_BERT_CACHE",
    "PYTHONWARNINGS", "PUID", "PGID", "MODEL_ENTRYPOINT_PRESETS",
)


def to_json(v):
    """Minimal JSON encoder for str/int/bool/None/list/dict (python3-minimal lacks the json module)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF:  # control chars, lone surrogates
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(to_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(to_json(str(k)) + ":" + to_json(x) for k, x in v.items()) + "}"
    return to_json(str(v))


def emit(event, **fields):
    sys.stdout.write(to_json(dict({"service": NAME, "event": event}, **fields)) + "\n")
    sys.stdout.flush()


def pid1_comm():
    with open("/proc/1/comm") as f:
        return f.read().strip()


def write_into(directory, make=False):
    """Create (optionally, as Bark does with makedirs) and write one file; report the errno on failure."""
    path = os.path.join(directory, "written-by-%s.txt" % NAME)
    try:
        if make:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w") as f:
            f.write("uid=%d gid=%d\n" % (os.getuid(), os.getgid()))
        return {"dir": directory, "ok": True, "file": path}
    except OSError as e:
        import errno
        return {"dir": directory, "ok": False, "error": errno.errorcode.get(e.errno, str(e.errno)), "message": str(e)}


def targets():
    presets = [p.strip() for p in os.environ.get("MODEL_ENTRYPOINT_PRESETS", "hf").split(",") if p.strip()]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/"), ".cache")
    out = []
    if os.environ.get("HF_HOME"):
        out.append((os.environ["HF_HOME"], False))
    if "bark" in presets:
        # suno-ai/bark generation.py: CACHE_DIR = join(XDG_CACHE_HOME or ~/.cache, "suno", "bark_v0"), makedirs.
        out.append((os.path.join(cache, "suno", "bark_v0"), True))
    if "torch" in presets:
        out.append((os.environ.get("TORCH_HOME") or os.path.join(cache, "torch"), True))
    return out


def safe(fn):
    try:
        return fn()
    except OSError as e:
        return "?" + (e.strerror or "")


def on_term(signum, _frame):
    emit("service.stopping", signal=signal.Signals(signum).name)
    os._exit(int(os.environ.get("STUB_TERM_EXIT", "0")))


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    writes = [write_into(d, make) for d, make in targets()]
    emit(
        "service.ready",
        pid=os.getpid(),
        ppid=os.getppid(),
        pid1_comm=safe(pid1_comm),
        uid=os.getuid(),
        euid=os.geteuid(),
        gid=os.getgid(),
        egid=os.getegid(),
        groups=sorted(os.getgroups()),
        cwd=safe(os.getcwd),
        argv=sys.argv,
        env={k: os.environ[k] for k in ENV_KEYS if k in os.environ},
        writes=writes,
        all_written=all(w["ok"] for w in writes),
    )
    if os.environ.get("STUB_ONCE") == "1":
        return 0
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
