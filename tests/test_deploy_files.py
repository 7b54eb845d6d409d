"""The deployment files (``deploy/``): linted, schema-validated and held to the code.

Linters and schemas come from PyPI in the dev extra and run offline: hadolint (the Dockerfile),
yamllint (every YAML file), kubernetes-validate (its bundled Kubernetes schemas, strict), the
compose-spec schema vendored in check-jsonschema, and Debian's ``nginx -t`` on the rendered proxy
template. Each validator is first shown a broken file, so a validator that checks nothing fails
here. The rest checks that the files agree with the code: setting names, routes probed, ports,
image tags, commands, limits. What the files describe runs for real in ``test_topology.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml
from conftest import REPO
from topology_support import NGINX_TEMPLATE, nginx_proxy, render_template

from digitpad.cli import build_parser
from digitpad.settings import Settings

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
# The oldest Kubernetes the manifests target and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.30.0", "1.37.0")
BIN = Path(sys.executable).parent
# Environment variables in the files that are not digitpad settings, and who reads them.
OTHER_ENV = {
    "PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
    "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD",  # the postgres image
    "PROXY_LISTEN", "PROXY_UPSTREAMS", "PROXY_ACCESS_LOG",  # the nginx template
}


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is missing from the venv: pip install -e '.[dev]' (make install)")
    return str(path)


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


def manifests() -> dict[str, dict]:
    """Every Kubernetes resource: file name -> the resource (one per file)."""
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            (doc,) = list(yaml.safe_load_all(path.read_text()))
            out[path.name] = doc
    return out


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def pod_spec(name: str) -> dict:
    return manifests()[name]["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines()
                                          if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines() if line.strip()]


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def docker_env() -> dict[str, str]:
    env = {}
    for op, args in final_stage():
        if op == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", args))
    return env


def pyproject_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


# ------------------------------------------------------------------ linters and schemas


def test_hadolint_passes_the_dockerfile_and_fails_a_bad_one(tmp_path):
    r = run(tool("hadolint"), "--failure-threshold", "style", str(DOCKERFILE))
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install gcc\nRUN cd /src && make\n")
    r = run(tool("hadolint"), "--failure-threshold", "style", str(bad))
    assert r.returncode != 0 and "DL3006" in r.stdout, r.stdout  # an untagged base image


def test_yamllint_passes_every_yaml_file():
    listed = run(tool("yamllint"), "--list-files", ".").stdout.split()
    assert {str(p.relative_to(REPO)) for p in DEPLOY.rglob("*.yaml")} <= {str(Path(p)) for p in listed}
    r = run(tool("yamllint"), "--strict", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def test_yamllint_fails_a_bad_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\na: 2\nb:   [1,2]\n")
    r = run(tool("yamllint"), "--strict", "-c", str(REPO / ".yamllint.yaml"), str(bad))
    assert r.returncode != 0 and "duplication of key" in r.stdout, r.stdout


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_match_the_schemas(version):
    found = manifests()
    assert {"deployment.yaml", "service.yaml", "ingress.yaml", "hpa.yaml", "pdb.yaml", "migrate-job.yaml",
            "secret.example.yaml"} <= set(found)
    kinds = set()
    for name, resource in found.items():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name} against Kubernetes {version}: {e.message} at {list(e.path)}")
        kinds.add(resource["kind"])
    assert kinds == {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job",
                     "Secret"}


def test_kubernetes_validation_catches_a_misspelt_field():
    deployment = manifests()["deployment.yaml"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(n for n in manifests() if n != "secret.example.yaml")


def test_compose_file_matches_the_compose_spec(tmp_path):
    r = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert r.returncode == 0, r.stdout + r.stderr
    broken = compose()
    broken["services"]["app"]["deploy"]["replicas"] = "three"
    broken["services"]["app"]["helthcheck"] = {}
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    r = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(tmp_path / "compose.yaml"))
    assert r.returncode != 0, r.stdout


def nginx_t(values: dict[str, str]) -> subprocess.CompletedProcess:
    proxy = nginx_proxy([8000], max_body_bytes=Settings().max_body_bytes)
    try:
        proxy.site_conf.write_text(render_template(NGINX_TEMPLATE.read_text(), values))
        return proxy.test_config()
    finally:
        proxy.remove()


def test_nginx_accepts_the_template_as_compose_renders_it():
    values = {k: str(v) for k, v in compose()["services"]["proxy"]["environment"].items()}
    # `app` resolves inside compose's network only; nginx -t resolves upstream names, so point it here.
    values["PROXY_UPSTREAMS"] = values["PROXY_UPSTREAMS"].replace("server app:", "server 127.0.0.1:")
    r = nginx_t(values)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_nginx_refuses_a_bad_rendering():
    values = {k: str(v) for k, v in compose()["services"]["proxy"]["environment"].items()}
    values["PROXY_UPSTREAMS"] = "server 127.0.0.1:8000;"
    values["DIGITPAD_MAX_BODY_BYTES"] = "ten-megabytes"
    r = nginx_t(values)
    assert r.returncode != 0 and "client_max_body_size" in r.stderr, r.stderr


def test_every_template_name_is_given_by_compose_and_the_topology_test():
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_TEMPLATE.read_text()))
    assert names == {"PROXY_LISTEN", "PROXY_UPSTREAMS", "PROXY_ACCESS_LOG", "DIGITPAD_MAX_BODY_BYTES"}
    assert names <= set(compose()["services"]["proxy"]["environment"])


# ------------------------------------------------------------------ the files agree with the code


def env_names_in_files() -> set[str]:
    names = set(docker_env())
    for service in compose()["services"].values():
        names |= set(service.get("environment", {}))
    for resource in manifests().values():
        if resource["kind"] in ("Deployment", "Job"):
            spec = resource["spec"]["template"]["spec"]
            for c in spec["containers"] + spec.get("initContainers", []):
                names |= set(env_of(c))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_TEMPLATE.read_text()))
    return names


def test_every_digitpad_variable_is_a_setting():
    names = env_names_in_files()
    fields = {f"DIGITPAD_{f.upper()}" for f in Settings.model_fields}
    assert {"DIGITPAD_DATABASE_URL", "DIGITPAD_MIGRATE", "DIGITPAD_MAX_BODY_BYTES"} <= names
    assert {n for n in names if n.startswith("DIGITPAD_")} - fields == set()
    assert {n for n in names if not n.startswith("DIGITPAD_")} - OTHER_ENV == set()


def probe_paths() -> dict[str, str]:
    paths = {}
    container = pod_spec("deployment.yaml")["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        paths[f"k8s {probe}"] = container[probe]["httpGet"]["path"]
    (health,) = [args for op, args in final_stage() if op == "HEALTHCHECK"]
    (paths["Dockerfile HEALTHCHECK"],) = re.findall(r"/[a-z]+z\b", health)
    return paths


def test_probes_and_healthchecks_ask_routes_the_server_answers(live_server):
    spec = httpx.get(f"{live_server}/openapi.json", timeout=10).json()
    for where, path in probe_paths().items():
        assert "get" in spec["paths"].get(path, {}), f"{where} asks {path}, which the app does not route"
        r = httpx.get(f"{live_server}{path}", timeout=10)
        assert r.status_code == 200, (where, r.text)


def test_the_settings_that_matter_in_public_are_set():
    """Behind the proxy: the real client's address (rate limits), the public host names, readiness
    that includes the database, the Host header passed on as the client sent it."""
    app = compose()["services"]["app"]["environment"]
    container = env_of(pod_spec("deployment.yaml")["containers"][0])
    for env in (app, container):
        assert env["DIGITPAD_TRUSTED_PROXIES"] == "*"
        assert env["DIGITPAD_ALLOWED_HOSTS"]
    rule_hosts = {r["host"] for r in manifests()["ingress.yaml"]["spec"]["rules"]}
    assert set(container["DIGITPAD_ALLOWED_HOSTS"].split(",")) == rule_hosts
    paths = probe_paths()
    assert paths["k8s readinessProbe"] == paths["Dockerfile HEALTHCHECK"] == "/readyz"
    assert paths["k8s livenessProbe"] == paths["k8s startupProbe"] == "/healthz"
    assert "proxy_set_header Host $http_host;" in NGINX_TEMPLATE.read_text()


def test_ports_agree():
    (expose,) = [args for op, args in final_stage() if op == "EXPOSE"]
    port = int(expose)
    assert int(docker_env()["DIGITPAD_PORT"]) == port
    assert docker_env()["DIGITPAD_HOST"] == "0.0.0.0"  # reachable from outside the container
    container = pod_spec("deployment.yaml")["containers"][0]
    (cport,) = container["ports"]
    assert cport["containerPort"] == port and int(env_of(container)["DIGITPAD_PORT"]) == port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == cport["name"]
    service = manifests()["service.yaml"]["spec"]["ports"][0]
    assert service["targetPort"] == cport["name"]
    backend = manifests()["ingress.yaml"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert (backend["name"], backend["port"]["name"]) == (manifests()["service.yaml"]["metadata"]["name"], service["name"])
    assert f"server app:{port} " in compose()["services"]["proxy"]["environment"]["PROXY_UPSTREAMS"]
    assert compose()["services"]["app"]["expose"] == [str(port)]


def test_selectors_names_and_secret_keys_agree():
    found = manifests()
    pod_labels = found["deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    selectors = [found["deployment.yaml"]["spec"]["selector"]["matchLabels"], found["service.yaml"]["spec"]["selector"],
                 found["pdb.yaml"]["spec"]["selector"]["matchLabels"]]
    for selector in selectors:
        assert selector.items() <= pod_labels.items()
    target = found["hpa.yaml"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", found["deployment.yaml"]["metadata"]["name"])
    secret = found["secret.example.yaml"]
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = pod_spec(name)
        for c in spec["containers"] + spec.get("initContainers", []):
            for ref in (v["secretKeyRef"] for v in env_of(c).values() if isinstance(v, dict)):
                assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"], (name, ref)


def images() -> dict[str, str]:
    out = {f"compose {n}": s["image"] for n, s in compose()["services"].items() if s["image"].startswith("digitpad")}
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = pod_spec(name)
        for c in spec["containers"] + spec.get("initContainers", []):
            out[f"{name} {c['name']}"] = c["image"]
    return out


def test_every_image_is_this_version_of_digitpad():
    found = images()
    assert len(found) == 5, found
    assert set(found.values()) == {f"digitpad:{pyproject_version()}"}, found


def commands() -> dict[str, list[str]]:
    out = {"Dockerfile CMD": yaml.safe_load([a for op, a in final_stage() if op == "CMD"][-1])}
    out |= {f"compose {n}": s["command"] for n, s in compose()["services"].items() if "command" in s}
    for name in ("deployment.yaml", "migrate-job.yaml"):
        spec = pod_spec(name)
        for c in spec["containers"] + spec.get("initContainers", []):
            out[f"{name} {c['name']}"] = c["command"]
    return out


def test_commands_are_real_digitpad_commands():
    """Each command parses with the real CLI, and the right step runs the right command."""
    parser = build_parser()
    funcs = {}
    for where, cmd in commands().items():
        assert cmd[0] == "digitpad", (where, cmd)
        funcs[where] = parser.parse_args(cmd[1:]).func.__name__
    assert funcs == {
        "Dockerfile CMD": "cmd_serve",
        "compose migrate": "cmd_db_upgrade",
        "compose app": "cmd_serve",
        "deployment.yaml wait-for-schema": "cmd_db_check",
        "deployment.yaml digitpad": "cmd_serve",
        "migrate-job.yaml migrate": "cmd_db_upgrade",
    }


def test_replicas_never_migrate_and_wait_for_the_migration_step():
    app = compose()["services"]["app"]
    assert app["environment"]["DIGITPAD_MIGRATE"] == "false"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose()["services"]["migrate"]["restart"] == "no"
    spec = pod_spec("deployment.yaml")
    assert env_of(spec["containers"][0])["DIGITPAD_MIGRATE"] == "false"
    assert "--wait" in spec["initContainers"][0]["command"]
    assert "DIGITPAD_MIGRATE" not in env_of(pod_spec("migrate-job.yaml")["containers"][0])
    strategy = manifests()["deployment.yaml"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0  # a rollout never goes below the replicas it has


def test_body_limits_and_timeouts_agree():
    c = compose()["services"]
    assert c["app"]["environment"]["DIGITPAD_MAX_BODY_BYTES"] == c["proxy"]["environment"]["DIGITPAD_MAX_BODY_BYTES"]
    assert c["migrate"]["environment"]["DIGITPAD_MAX_BODY_BYTES"] == c["app"]["environment"]["DIGITPAD_MAX_BODY_BYTES"]
    container_env = env_of(pod_spec("deployment.yaml")["containers"][0])
    annotations = manifests()["ingress.yaml"]["metadata"]["annotations"]
    limit = int(container_env["DIGITPAD_MAX_BODY_BYTES"])
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]) == limit
    assert int(c["app"]["environment"]["DIGITPAD_MAX_BODY_BYTES"]) == limit
    assert "client_max_body_size ${DIGITPAD_MAX_BODY_BYTES};" in NGINX_TEMPLATE.read_text()
    # The proxies wait longer than the app takes to give up on a request (it answers its own 503).
    request_timeout = float(container_env.get("DIGITPAD_REQUEST_TIMEOUT", Settings().request_timeout))
    (read_timeout,) = re.findall(r"proxy_read_timeout (\d+)s;", NGINX_TEMPLATE.read_text())
    assert int(read_timeout) > request_timeout
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > request_timeout


def test_dockerfile_builds_a_slim_non_root_serving_image():
    steps = dockerfile()
    froms = [args for op, args in steps if op == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]  # one base image, two stages
    (arg,) = [args for op, args in steps if op == "ARG"]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]-slim-\w+", arg), arg
    final = final_stage()
    (user,) = [args for op, args in final if op == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    installs = " ".join(args for op, args in steps if op == "RUN" and "pip install" in args)
    assert '".[postgres]"' in installs and not re.search(r"\[[^]]*train", installs) and "torch" in installs  # and checked absent
    assert not any("gcc" in args for op, args in final if op == "RUN")  # the compiler stays in the build stage
    for op, args in steps:
        if op == "COPY" and not args.startswith("--from"):
            for src in args.split()[:-1]:
                assert (REPO / src).exists(), f"COPY {src}: no such file in the repository"


# ------------------------------------------------------------------ the image's build step, for real


@pytest.mark.slow
def test_the_wheel_the_image_installs_has_everything(tmp_path):
    """The Dockerfile's `pip install ".[postgres]"` is a plain (not editable) install: build that
    wheel here, check it carries the compiled extensions and the package data, and run it from
    outside the repository."""
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels.glob("digitpad-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for pattern in (r"digitpad/_fastpre\..*\.so", r"digitpad/_fastpng\..*\.so", r"digitpad/models/digitpad\.int8\.onnx",
                    r"digitpad/migrations/versions/0001_feedback\.py", r"digitpad/static/index\.html",
                    r"digitpad/static/vendor/onnxruntime-web-[\d.]+/ort-wasm-simd-threaded\.wasm"):
        assert any(re.fullmatch(pattern, n) for n in names), f"{pattern} is not in {wheel.name}"
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    probe = (f"import sys; sys.path.insert(0, {str(target)!r}); import digitpad, digitpad._fastpre, digitpad._fastpng; "
             f"assert digitpad.__file__.startswith({str(target)!r}), digitpad.__file__; "
             "from digitpad.cli import main; sys.exit(main(['db', 'upgrade']))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={"PATH": "/usr/bin:/bin", "DIGITPAD_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert r.returncode == 0 and "empty ->" in r.stdout, r.stdout + r.stderr
