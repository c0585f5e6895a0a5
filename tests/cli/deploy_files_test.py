#!/usr/bin/env python3
"""Checks the deployment files in deploy/ against the real `heck` binary.

  1. deploy/systemd/heck.json: as shipped, `heck agent` refuses it (exit 2,
     naming "keys": the placeholders must be replaced); with a real key and
     token filled in (and loopback addresses), an agent starts from it with
     the unit's flags (--config, --data-dir), serves /v1/health, refuses a
     write without the token and accepts it with the token, and stops with
     exit 0 on SIGTERM.
  2. deploy/systemd/heck.service: the [Service] keys the brief requires
     (DynamicUser, StateDirectory=heck, ProtectSystem=strict, the credential
     and --data-dir in ExecStart), and every flag it passes exists.
  3. deploy/k8s/heck.yaml: parses as YAML (python3-yaml, when installed);
     the headless Service publishes not-ready addresses; the StatefulSet has
     3 replicas, --name $(POD_NAME), --advertise $(POD_IP):7946, seeds
     heck-N.heck..., a readiness probe on /v1/health, the Secret's keys, and a
     volume claim mounted at --data-dir; every flag it passes exists.

Usage: deploy_files_test.py PATH_TO_HECK DEPLOY_DIR
Bounded: each wait is a poll with a deadline; the test takes a few seconds.
"""

import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from heck_proc import (args_or_usage, check, free_cluster_port, free_port, http_request, keygen, run_heck, start_agent,  # noqa: E402
                       temp_dir, wait_until)
def agent_flags(heck):
    """Long flags `heck agent --help` lists."""
    r = run_heck(heck, "agent", "--help", timeout=10)
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", r.stdout))


def check_flags(where, args, known):
    for a in args:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            check(flag in known, f"{where}: `heck agent` has no flag {flag}")


def test_systemd_config(heck, deploy, tmp):
    path = os.path.join(deploy, "systemd", "heck.json")
    with open(path) as f:
        config = json.load(f)
    # As shipped: refused until the placeholders are replaced.
    r = run_heck(heck, "agent", "--config", path, "--bind", "127.0.0.1:0", "--advertise", "127.0.0.1:1",
                 "--api", "127.0.0.1:0", "--data-dir", tmp, timeout=10)
    check(r.returncode == 2 and "keys" in r.stderr, f"shipped heck.json: exit {r.returncode}: {r.stderr!r}")
    print("ok: the shipped heck.json is refused until its key placeholder is replaced")

    key = keygen(heck)
    token = "deploy-test-token-0123456789"
    cluster_port = free_cluster_port()
    api_port = free_port()
    config.update({"keys": [key], "api_token": token, "bind": f"127.0.0.1:{cluster_port}",
                   "advertise": f"127.0.0.1:{cluster_port}", "join": [], "api": f"127.0.0.1:{api_port}"})
    filled = os.path.join(tmp, "heck.json")
    with open(filled, "w") as f:
        json.dump(config, f)
    data_dir = os.path.join(tmp, "state")
    os.mkdir(data_dir, 0o700)
    # The unit's ExecStart: heck agent --config %d/heck.json --data-dir %S/heck
    agent = start_agent(heck, bind=None, api=None, data_dir=data_dir, extra=["--config", filled],
                        wait_s=None)
    api = f"http://127.0.0.1:{api_port}"
    try:
        def healthy():
            check(agent.proc.poll() is None,
                  f"agent from the filled-in heck.json exited {agent.proc.returncode}: {agent.log()}")
            return http_request("GET", f"{api}/v1/health").status == 200
        wait_until("the agent from heck.json to answer /v1/health", healthy, 10, retry_on=(OSError,))
        spec = {"url": "http://127.0.0.1:9/", "interval_ms": 5000, "timeout_ms": 1000}
        status, _, body = http_request("PUT", f"{api}/v1/targets/deploy-check", spec)
        check(status == 401, f"PUT without the token: {status} {body}")
        status, _, body = http_request("PUT", f"{api}/v1/targets/deploy-check", spec, token=token)
        check(status == 201, f"PUT with the token: {status} {body}")
        check(json.loads(body).get("durable") is True, f"PUT with --data-dir is not durable: {body}")
        agent.proc.send_signal(signal.SIGTERM)
        rc = agent.proc.wait(timeout=10)
        check(rc == 0, f"exit code after SIGTERM: {rc}")
    finally:
        agent.kill()
    check(os.listdir(data_dir), f"nothing written to the data dir {data_dir}")
    print("ok: filled in, heck.json starts an agent with the unit's flags: health, token on writes, durable "
          "state, SIGTERM -> exit 0")


def test_systemd_unit(deploy, known):
    path = os.path.join(deploy, "systemd", "heck.service")
    section, keys = None, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                section = m.group(1)
                continue
            k, _, v = line.partition("=")
            check(section is not None and _ == "=", f"{path}: bad line {line!r}")
            keys.setdefault((section, k), []).append(v)
    want = {("Service", "DynamicUser"): "yes", ("Service", "StateDirectory"): "heck",
            ("Service", "ProtectSystem"): "strict", ("Service", "NoNewPrivileges"): "yes",
            ("Service", "Restart"): "on-failure", ("Install", "WantedBy"): "multi-user.target"}
    for k, v in want.items():
        check(keys.get(k) == [v], f"{path}: {k[0]}.{k[1]} is {keys.get(k)}, want {v}")
    exec_start = keys[("Service", "ExecStart")][0].split()
    check(exec_start[:2] == ["/usr/local/bin/heck", "agent"], f"ExecStart: {exec_start}")
    check("--data-dir" in exec_start and exec_start[exec_start.index("--data-dir") + 1] == "%S/heck",
          f"ExecStart does not pass the StateDirectory as --data-dir: {exec_start}")
    check("--config" in exec_start and exec_start[exec_start.index("--config") + 1] == "%d/heck.json",
          f"ExecStart does not read the credential: {exec_start}")
    check(keys.get(("Service", "LoadCredential")) == ["heck.json:/etc/heck/heck.json"], "LoadCredential")
    check_flags(path, exec_start[2:], known)
    print("ok: heck.service: DynamicUser, StateDirectory as --data-dir, config as a credential, hardening")


def test_k8s(deploy, known):
    path = os.path.join(deploy, "k8s", "heck.yaml")
    try:
        import yaml  # python3-yaml (Debian); the rest of the test needs only the standard library
    except ImportError:
        print(f"skipped: {path} (no python3-yaml to parse it)")
        return
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        check(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), f"{path}: {d}")
        by_kind.setdefault(d["kind"], []).append(d)
    headless = next(s for s in by_kind["Service"] if s["metadata"]["name"] == "heck")
    check(headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True,
          "headless Service heck with publishNotReadyAddresses")
    check({(p["port"], p["protocol"]) for p in headless["spec"]["ports"]} >= {(7946, "UDP"), (7946, "TCP")},
          "the headless Service carries gossip over UDP and TCP")
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    check(spec["replicas"] == 3 and spec["serviceName"] == "heck", "StatefulSet: 3 replicas behind heck")
    pod = spec["template"]["spec"]
    check(spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), "selector")
    c = pod["containers"][0]
    args = c["args"]
    check(args[0] == "agent", f"args: {args}")
    check("--name=$(POD_NAME)" in args, "--name $(POD_NAME)")
    check("--advertise=$(POD_IP):7946" in args, "--advertise $(POD_IP):7946")
    seeds = [a for a in args if a.startswith("--join=")]
    check(seeds and all(re.match(r"^--join=heck-\d\.heck\.", s) for s in seeds), f"seeds: {seeds}")
    check_flags(path, args[1:], known)
    env = {e["name"]: e for e in c["env"]}
    for name in ("POD_NAME", "POD_IP", "POD_NAMESPACE", "HECK_GOSSIP_KEY", "HECK_API_TOKEN"):
        check(name in env, f"env {name}")
    secret = by_kind["Secret"][0]
    for name in ("HECK_GOSSIP_KEY", "HECK_API_TOKEN"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        check(ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"],
              f"{name} comes from the Secret")
    check(c["readinessProbe"]["httpGet"]["path"] == "/v1/health", "readiness probe on /v1/health")
    data_dir = next(a.split("=", 1)[1] for a in args if a.startswith("--data-dir="))
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    check(any(m["mountPath"] == data_dir and m["name"] in claims for m in c["volumeMounts"]),
          f"a volume claim mounted at --data-dir {data_dir}")
    print("ok: heck.yaml: headless Service, 3-replica StatefulSet with the agent flags, probe, Secret, volume claim")


def main():
    heck, deploy = args_or_usage(__doc__, 2)
    known = agent_flags(heck)
    check("--data-dir" in known and "--api-token" in known, f"`heck agent --help` lacks --data-dir/--api-token")
    with temp_dir("heck-deploy-") as tmp:
        test_systemd_config(heck, deploy, tmp)
    test_systemd_unit(deploy, known)
    test_k8s(deploy, known)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
