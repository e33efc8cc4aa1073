# syntax=docker/dockerfile:1
# The agent worker, in the manner of LiveKit's agent-starter-python, with pip and pyproject.toml
# instead of uv. Secrets are passed at run time (`docker run --env-file .env.local`); none are
# copied in (.dockerignore). tests/test_dockerfile.py checks what this file copies and runs.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

# Logs leave at once, even when the worker crashes. HF_HOME is where `download-files` puts the
# turn-detector model and where the agent looks for it, whatever user the container runs as.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    HF_HOME=/home/appuser/.cache/huggingface

# A non-privileged user to run the worker.
ARG UID=10001
RUN adduser \
    --disabled-password \
    --gecos "" \
    --home /home/appuser \
    --shell /sbin/nologin \
    --uid "${UID}" \
    appuser

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a code change does not reinstall them.
# All of them ship manylinux wheels for CPython 3.11 (amd64 and arm64), so no compiler is needed.
# The project itself is not pip-installed: it runs from /app, where voice_settings finds profiles/.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && python -m pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The multilingual turn-detector model, fetched at build so a worker never downloads at run time
# (without it the agent falls back to the bundled v1-mini detector). A failed download fails the build.
USER appuser
RUN python -m livekit.agents download-files

# The code, and the operator's profiles (VOICE_PROFILES_DIR can point at a mounted directory
# instead). Owned by root: the worker can read them, not change them.
COPY agent.py ./
COPY voice_settings ./voice_settings
COPY profiles ./profiles

# The worker's health check: GET / answers 200 while it runs, 503 when its inference process died.
# (A worker that cannot reach LiveKit retries for about 2 minutes, then exits, with status 0.)
EXPOSE 8081
HEALTHCHECK --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/', timeout=5)"]

# Production mode: register with LIVEKIT_URL and wait for jobs; JSON logs.
CMD ["python", "-m", "livekit.agents", "start", "agent.py"]
