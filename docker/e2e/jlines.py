#!/usr/bin/env python3
"""Query the JSON lines of container logs for the e2e suite.

    jlines.py FILE... -- EXPR     exit 0 when the Python expression is true, else print why, exit 1
    jlines.py FILE... -- =EXPR    print the value of the expression (as JSON)

Names available in EXPR:
  L            every JSON object found (one per line; other lines are kept in `raw`)
  ev(name)     the lines whose "event" is name (a trailing '*' matches a prefix: ev("dir.*"))
  one(name)    the last line with that event, or {} (so one("x").get(...) never raises)
  svc          the service's report: one("service.ready")
  dirs(path)   the wrapper's dir.* lines about that path
  dir(path)    the last of them, or {}
  warnings     lines at level warn or worse; errors: error or worse (pino numbers or labels)
  dupes        for each object that has a key twice (e.g. two "name"), the repeated keys
  raw          the lines that are not JSON objects
"""
import json
import sys

LEVELS = {"trace": 10, "debug": 20, "info": 30, "warn": 40, "error": 50, "fatal": 60}


def level(o):
    """pino's level as a number, whether logged as a number (30) or a label ("info")."""
    v = o.get("level")
    return LEVELS.get(v, 0) if isinstance(v, str) else (v or 0)


def load(paths):
    """JSON objects and other lines of the files; objects with a key twice are also in `dupes`."""
    objs, raw, dupes = [], [], []

    def pairs(kv):
        keys = [k for k, _ in kv]
        if len(set(keys)) != len(keys):
            dupes.append(sorted({k for k in keys if keys.count(k) > 1}))
        return dict(kv)

    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    o = json.loads(line, object_pairs_hook=pairs)
                except ValueError:
                    raw.append(line)
                    continue
                (objs if isinstance(o, dict) else raw).append(o)
    return objs, raw, dupes


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    sep = argv.index("--")
    paths, expr = argv[:sep], " ".join(argv[sep + 1:])
    L, raw, dupes = load(paths)

    def ev(name):
        if name.endswith("*"):
            return [o for o in L if str(o.get("event", "")).startswith(name[:-1])]
        return [o for o in L if o.get("event") == name]

    def one(name):
        found = ev(name)
        return found[-1] if found else {}

    def dirs(path):
        return [o for o in ev("dir.*") if o.get("path") == path]

    def dir_(path):
        found = dirs(path)
        return found[-1] if found else {}

    scope = {"L": L, "raw": raw, "dupes": dupes, "ev": ev, "one": one, "svc": one("service.ready"), "dirs": dirs,
             "dir": dir_, "level": level, "warnings": [o for o in L if level(o) >= 40],
             "errors": [o for o in L if level(o) >= 50]}
    show = expr.startswith("=")
    try:
        value = eval(expr[1:] if show else expr, scope)  # noqa: S307 - test helper, our own expressions
    except Exception as e:  # a missing key is a failed expectation, not a crash
        value, err = None, "%s: %s" % (type(e).__name__, e)
    else:
        err = None
    if show:
        print(json.dumps(value))
        return 0 if err is None else 1
    if value and err is None:
        return 0
    print("not true: " + expr + ("  (" + err + ")" if err else ""))
    if dupes:
        print("keys repeated within one line: %s" % dupes[:5])
    for o in L[-25:]:
        print(json.dumps(o)[:400])
    for r in raw[-5:]:
        print("raw: " + r[:300])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
