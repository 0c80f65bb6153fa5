#!/usr/bin/env python3
"""Checks docker/k8s/*.yaml against the image they are meant for (no cluster here).

    k8s_check.py IMAGE_CONFIG.json deployment.yaml openshift.yaml

IMAGE_CONFIG.json is `docker inspect -f '{{json .Config}}' IMAGE` of the image built from
Dockerfile.example. Prints one line per problem and exits 1 if there is any.
Needs PyYAML (Debian's python3-yaml, a dependency of docker-compose).
"""
import json
import sys

import yaml


def env_of(config):
    return dict(e.split("=", 1) for e in config.get("Env") or [])


def check(config, path, problems):
    def bad(msg):
        problems.append("%s: %s" % (path, msg))

    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    claims = {d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    if not deployments:
        bad("no Deployment")
    image_env = env_of(config)
    probe = (config.get("Healthcheck") or {}).get("Test", [])[1:]  # ["CMD", ...] -> the command
    openshift = "openshift" in path
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext") or {}
        if not dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items():
            bad("selector does not match the pod labels")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for v in volumes.values():
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in claims:
                bad("volume %s uses claim %s, not defined in the file" % (v["name"], claim))
        for c in pod["containers"]:
            name = c["name"]
            if "command" in c:
                bad("%s: `command:` replaces the image's ENTRYPOINT and skips the wrapper" % name)
            csc = c.get("securityContext") or {}
            if csc.get("readOnlyRootFilesystem") is not True:
                bad("%s: readOnlyRootFilesystem is not true" % name)
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            for m, vol in mounts.items():
                if vol not in volumes:
                    bad("%s: mount %s uses undefined volume %s" % (name, m, vol))
            for var in ("HF_HOME", "XDG_CACHE_HOME"):
                if image_env.get(var) not in mounts:
                    bad("%s: no volume at the image's %s=%s (read-only root)" % (name, var, image_env.get(var)))
            if "/tmp" not in mounts:
                bad("%s: no writable /tmp with a read-only root" % name)
            exec_probe = ((c.get("readinessProbe") or {}).get("exec") or {}).get("command")
            if exec_probe != probe:
                bad("%s: readiness probe %s differs from the image's HEALTHCHECK %s" % (name, exec_probe, probe))
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            uid = csc.get("runAsUser", psc.get("runAsUser"))
            gid = csc.get("runAsGroup", psc.get("runAsGroup"))
            if openshift:
                if uid is not None or gid is not None:
                    bad("%s: OpenShift assigns the uid; runAsUser/runAsGroup must not be set" % name)
                if env.get("PUID") != "" or env.get("PGID") != "":
                    bad("%s: PUID/PGID must be cleared (\"\") when the uid is not known" % name)
            else:
                if uid is None or gid is None or psc.get("fsGroup") is None:
                    bad("%s: runAsUser, runAsGroup and fsGroup must be set" % name)
                if (env.get("PUID"), env.get("PGID")) != (str(uid), str(gid)):
                    bad("%s: PUID/PGID %s/%s differ from runAsUser/runAsGroup %s/%s (a warning at every start)"
                        % (name, env.get("PUID"), env.get("PGID"), uid, gid))


def main(argv):
    with open(argv[0]) as f:
        config = json.load(f)
    problems = []
    for path in argv[1:]:
        check(config, path, problems)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
