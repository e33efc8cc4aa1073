"""The Dockerfile, checked without Docker: what it copies exists and reaches the build context,
what it runs is something the installed framework accepts, and the image it describes runs the
worker in production mode as a non-root user with no secrets inside."""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from livekit.agents.worker import ServerEnvOption, ServerOptions
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
DOCKERIGNORE = (ROOT / ".dockerignore").read_text(encoding="utf-8")

PYTHON_311_SLIM = re.compile(r"python:3\.11(\.\d+)*-slim(-[a-z]+)?")
PRODUCTION_CMD_PREFIX = ["python", "-m", "livekit.agents", "start"]
# Paths that must never be sent to the Docker daemon: secrets, environments, caches.
MUST_STAY_OUT = [".env", ".env.local", ".venv/bin/python", ".git/HEAD", "tests/test_agent.py",
                 ".pytest_cache/v/cache/nodeids", ".hypothesis/examples/x", ".ruff_cache/x",
                 "voice_settings/__pycache__/model.cpython-311.pyc",
                 "voice_settings_agent.egg-info/PKG-INFO"]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction; comments dropped, `\\` continuations joined."""
    steps, pending = [], ""
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        steps.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return steps


def exec_form(arguments: str) -> list[str] | None:
    return json.loads(arguments) if arguments.startswith("[") else None


def shell_commands(arguments: str) -> list[list[str]]:
    """A shell-form RUN as its `&&`-joined simple commands, each split as the shell would."""
    return [shlex.split(part) for part in arguments.split("&&")]


def base_image(steps: list[tuple[str, str]]) -> str:
    image = [arguments for keyword, arguments in steps if keyword == "FROM"][-1].split()[0]
    for keyword, arguments in steps:
        if keyword == "ARG" and "=" in arguments:
            name, _, default = arguments.partition("=")
            image = image.replace(f"${{{name}}}", default).replace("$" + name, default)
    return image


def copies(steps: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    result = []
    for keyword, arguments in steps:
        tokens = shlex.split(arguments)
        if keyword in ("COPY", "ADD") and not any(t.startswith("--from") for t in tokens):
            paths = [t for t in tokens if not t.startswith("--")]
            result.append((paths[:-1], paths[-1]))
    return result


def glob_regex(pattern: str) -> str:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return out


def dockerignore_matcher(text: str) -> Callable[[str], bool]:
    """Whether Docker leaves a context path out: a pattern matching the path or one of its
    parent directories decides, the last such pattern wins, `!` patterns let paths back in."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
            rules.append((not line.startswith("!"), re.compile(glob_regex(pattern))))

    def ignored(path: str) -> bool:
        parts = PurePosixPath(path).parts
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for exclude, regex in rules:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                verdict = exclude
        return verdict

    return ignored


def tracked_files(source: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--", source], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return listed.split()


def image_problems(dockerfile: str, dockerignore: str) -> list[str]:
    steps, ignored, problems = instructions(dockerfile), dockerignore_matcher(dockerignore), []
    if not PYTHON_311_SLIM.fullmatch(image := base_image(steps)):
        problems.append(f"base image {image!r} is not python:3.11-slim")
    users = [arguments.split(":")[0] for keyword, arguments in steps if keyword == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append("the worker runs as root")
    elif not any(keyword == "RUN" and re.search(rf"\b(adduser|useradd)\b.*\b{users[-1]}\b",
                                                  arguments) for keyword, arguments in steps):
        problems.append(f"user {users[-1]!r} is never created")
    for sources, _ in copies(steps):
        for source in sources:
            if not (ROOT / source).exists():
                problems.append(f"COPY {source}: no such file in the repository")
            problems += [f"COPY {source}: {path} is excluded by .dockerignore"
                         for path in tracked_files(source) if ignored(path)]
    problems += [f".dockerignore lets {path} into the build context"
                 for path in MUST_STAY_OUT if ignored(path) is False]
    runs = " ".join(arguments for keyword, arguments in steps if keyword == "RUN")
    if "python -m livekit.agents download-files" not in runs:
        problems.append("the turn-detector model is not downloaded at build")
    cmd = [exec_form(arguments) for keyword, arguments in steps if keyword == "CMD"]
    if not cmd or cmd[-1] is None:  # shell form: /bin/sh is PID 1 and SIGTERM never drains
        problems.append("CMD is missing or not in exec form")
    elif cmd[-1][:4] != PRODUCTION_CMD_PREFIX or "--dev" in cmd[-1]:
        problems.append(f"CMD {cmd[-1]} does not start the worker in production mode")
    return problems


def test_the_dockerfile_describes_a_production_worker_image():
    assert image_problems(DOCKERFILE, DOCKERIGNORE) == []


BROKEN = {
    "not slim": ("FROM python:${PYTHON_VERSION}-slim", "FROM python:${PYTHON_VERSION}",
                 "base image"),
    "other python": ("ARG PYTHON_VERSION=3.11", "ARG PYTHON_VERSION=3.13", "base image"),
    "root": ("USER appuser", "USER root", "runs as root"),
    "typo in COPY": ("COPY profiles ./profiles", "COPY profile ./profiles", "no such file"),
    "dev mode": ('"agent.py"]', '"agent.py", "--dev"]', "production mode"),
    "legacy CLI": ('["python", "-m", "livekit.agents", "start", "agent.py"]',
                   '["python", "agent.py", "dev"]', "production mode"),
    "shell form": ('CMD ["python", "-m", "livekit.agents", "start", "agent.py"]',
                   "CMD python -m livekit.agents start agent.py", "exec form"),
    "no model": ("RUN python -m livekit.agents download-files", "", "not downloaded"),
}
BROKEN_IGNORE = {
    "secrets sent": ("**/.env.*\n", "", ".env.local into the build context"),
    "root-only caches": ("**/__pycache__\n**/*.py[cod]", "__pycache__\n*.py[cod]",
                         "__pycache__/model"),
    "profiles left out": ("\ntests\n", "\ntests\nprofiles\n", "profiles/default.toml is excluded"),
}


@pytest.mark.parametrize("old,new,problem", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_dockerfile_is_caught(old, new, problem):
    assert old in DOCKERFILE
    problems = image_problems(DOCKERFILE.replace(old, new), DOCKERIGNORE)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("old,new,problem", BROKEN_IGNORE.values(), ids=BROKEN_IGNORE.keys())
def test_a_broken_dockerignore_is_caught(old, new, problem):
    assert old in DOCKERIGNORE
    problems = image_problems(DOCKERFILE, DOCKERIGNORE.replace(old, new))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("pattern,path,ignored", [
    ("*/temp*", "somedir/temporary.txt", True), ("*/temp*", "temporary.txt", False),
    ("*/*/temp*", "a/b/temp.txt", True), ("temp?", "tempa/file", True),
    ("**/*.go", "a/b/c.go", True), ("**/*.go", "c.go", True), ("*.md\n!README.md", "README.md",
                                                              False),
    ("__pycache__", "pkg/__pycache__/x.pyc", False), ("**/*.py[cod]", "a/b.pyc", True),
])
def test_the_dockerignore_matcher_follows_dockers_examples(pattern, path, ignored):
    assert dockerignore_matcher(pattern)(path) is ignored


def test_dependencies_are_the_ones_pyproject_lists(tmp_path):
    install = next(arguments for keyword, arguments in instructions(DOCKERFILE)
                   if keyword == "RUN" and "pip install" in arguments)
    extract, pip, *_ = shell_commands(install)
    assert extract[:2] == ["python", "-c"] and extract[3] == ">"
    assert pip[:5] == ["python", "-m", "pip", "install", "-r"] and pip[5] == extract[4]
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    listed = subprocess.run([sys.executable, "-c", extract[2]], cwd=tmp_path, check=True,
                            capture_output=True, text=True).stdout.splitlines()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert listed == pyproject["project"]["dependencies"]
    assert "3.11" in SpecifierSet(pyproject["project"]["requires-python"])


def test_the_model_lands_where_the_non_root_user_can_write_it():
    steps = instructions(DOCKERFILE)
    env = " ".join(arguments for keyword, arguments in steps if keyword == "ENV")
    hf_home = re.search(r"HF_HOME=(\S+)", env)
    user = [arguments for keyword, arguments in steps if keyword == "USER"][-1]
    home = re.search(rf"--home\s+(\S+).*\b{user}\b", " ".join(a for k, a in steps if k == "RUN"))
    assert hf_home and home and hf_home.group(1).startswith(home.group(1) + "/")
    download = steps.index(("RUN", "python -m livekit.agents download-files"))
    assert ("USER", user) in steps[:download], "download as the user who owns HF_HOME"


def test_the_healthcheck_asks_the_workers_health_port():
    steps = dict(instructions(DOCKERFILE))
    default_port = {f.name: f.default for f in dataclasses.fields(ServerOptions)}["port"]
    port = ServerEnvOption.getvalue(default_port, devmode=False)
    assert steps["EXPOSE"] == str(port)
    check = exec_form(steps["HEALTHCHECK"].split("CMD", 1)[1].strip())
    assert check[:2] == ["python", "-c"] and f"http://127.0.0.1:{port}/" in check[2]
    compile(check[2], "HEALTHCHECK", "exec")


# Runs `python -m livekit.agents ARGV` with the framework's real parser and AgentServer
# discovery; only the final step (running the worker, downloading) is replaced by a record.
FRAMEWORK_CLI = """
import json, sys
from voice_settings.store import load_directory
import livekit.agents.__main__ as cli
seen = {}
cli._dispatch = lambda server, args: seen.update(
    command=args.command, server=type(server).__name__, dev=args.dev)
cli._download_files = lambda: seen.update(command="download-files") or 0
seen["exit"] = cli.main(sys.argv[1:])
if seen["command"] != "download-files":
    import agent, voice_settings
    from voice_settings import ProfileStore
    seen.update(agent=agent.__file__, voice_settings=voice_settings.__file__,
                profiles=load_directory().names())
print(json.dumps(seen))
"""


def framework_cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIVEKIT_", "VOICE_", "AGENT_NAME"))}
    return subprocess.run([sys.executable, "-c", FRAMEWORK_CLI, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def image_app_dir(tmp_path: Path) -> Path:
    """/app as the COPY steps build it, from what .dockerignore lets into the context."""
    app, ignored = tmp_path / "app", dockerignore_matcher(DOCKERIGNORE)
    for sources, destination in copies(instructions(DOCKERFILE)):
        for origin in (ROOT / source for source in sources):
            target = app / destination / origin.name if destination.endswith("/") \
                else app / destination
            for file in [origin] if origin.is_file() else origin.rglob("*"):
                if file.is_file() and not ignored(file.relative_to(ROOT).as_posix()):
                    (target / file.relative_to(origin)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(file, target / file.relative_to(origin))
    return app


def livekit_agents_commands() -> list[list[str]]:
    commands = []
    for keyword, arguments in instructions(DOCKERFILE):
        if keyword == "RUN":
            commands += shell_commands(arguments)
        elif keyword == "CMD":
            commands.append(exec_form(arguments))
    return [c[3:] for c in commands if c[:3] == ["python", "-m", "livekit.agents"]]


def test_the_framework_accepts_what_the_image_runs_and_finds_the_worker(tmp_path):
    app = image_app_dir(tmp_path)
    assert not (app / ".env.local").exists() and not list(app.rglob("__pycache__"))
    profiles = sorted(p.stem for p in (ROOT / "profiles").glob("*.toml"))
    seen = []
    for argv in livekit_agents_commands():
        done = framework_cli(argv, cwd=app)
        assert done.returncode == 0, done.stderr[-2000:]
        seen.append(json.loads(done.stdout.splitlines()[-1]))
    download, worker = seen
    assert download == {"command": "download-files", "exit": 0}
    assert worker["command"] == "start" and worker["dev"] is False
    assert worker["server"] == "AgentServer" and worker["profiles"] == profiles
    for module in ("agent", "voice_settings"):  # from the image's files, not this checkout
        assert Path(worker[module]).resolve().is_relative_to(app.resolve()), worker


def test_the_framework_refuses_a_subcommand_it_does_not_have(tmp_path):
    done = framework_cli(["download-file"], cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'download-file'" in done.stderr
